using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// What <c>state_dir</c> must allow before anything starts: kcp can create it (or it exists) and write into it, its
/// <c>offsets/</c> and <c>skipped.jsonl</c> entries are of the right kind, its control socket path fits a Unix socket
/// address, and every local record file name of the routes fits the file system's name limit. Creating a directory is the only reliable test of writability
/// (access() says yes to root on a file system that refuses it), so a uniquely named directory is created in
/// <c>state_dir</c>, or in its nearest existing ancestor when it does not exist yet, and removed at once.
/// </summary>
internal static class StateDirRules
{
    /// <summary>NAME_MAX of Linux file systems (ext4, xfs, btrfs, tmpfs): a file name of at most 255 bytes.</summary>
    public const int MaxFileNameBytes = 255;

    /// <summary>
    /// 107: the longest path a Unix domain socket may have on Linux (<c>sun_path</c> holds 108 bytes including the
    /// terminating NUL). The control socket is <c>{state_dir}/kcp.sock</c>, or <c>kcp-{pid}.sock</c> for a further kcp.
    /// </summary>
    public const int MaxSocketPathBytes = 107;

    // The longest control socket file name: pid_max is at most 4194304 (2^22) on Linux.
    private const string LongestSocketName = "kcp-4194304.sock";

    /// <summary>Why kcp could not create or write <paramref name="stateDir"/> (an absolute path), or null.</summary>
    public static string? Problem(string stateDir)
    {
        var socketBytes = Encoding.UTF8.GetByteCount(Path.Combine(stateDir, LongestSocketName));
        if (socketBytes > MaxSocketPathBytes)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"is too long for the control socket: {Path.Combine(stateDir, "kcp-{pid}.sock")} may be up to {socketBytes} bytes, and a Unix socket path may have at most {MaxSocketPathBytes} (108 bytes including the terminating NUL, Linux's sun_path); use a state_dir of at most {MaxSocketPathBytes - LongestSocketName.Length - 1} bytes");
        }

        var existing = stateDir;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                return $"cannot be created: {existing} is a file, not a directory";
            if (new FileInfo(existing).LinkTarget is { } target)
                return $"cannot be created: {existing} is a symbolic link to {target}, which does not exist";
            existing = Path.GetDirectoryName(existing);
            if (existing is null)
                return "cannot be created: none of its parent directories exists";
        }

        if (ConfigFile.CreateDirectoryProblem(existing) is { } reason)
            return existing == stateDir ? $"is not writable: {reason}" : $"cannot be created in {existing}: {reason}";

        var offsets = Path.Combine(stateDir, StateDirLayout.OffsetsDirectory);
        if (File.Exists(offsets) || (!Directory.Exists(offsets) && new FileInfo(offsets).LinkTarget is not null))
            return $"holds a file {offsets} where kcp keeps its offset records directory";
        if (Directory.Exists(offsets) && ConfigFile.CreateDirectoryProblem(offsets) is { } offsetsReason)
            return $"has a directory {offsets} that is not writable: {offsetsReason}";

        var skipped = Path.Combine(stateDir, StateDirLayout.SkipLogFile);
        if (Directory.Exists(skipped))
            return $"holds a directory {skipped} where kcp appends its skip records";
        if (File.Exists(skipped))
        {
            try
            {
                // Opened for appending and closed again: tests the permission without changing the file.
                using var _ = new FileStream(skipped, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"has a skip records file {skipped} that cannot be written: {e.Message}";
            }
        }

        return null;
    }

    /// <summary>
    /// Null when every partition's record file name of <paramref name="route"/> fits <see cref="MaxFileNameBytes"/>;
    /// otherwise the key to blame (the name that takes most of the file name once encoded), its value and the message.
    /// The name is <see cref="StateDirLayout.RecordFileName"/>, the one the offset store opens.
    /// </summary>
    public static (string Key, string Value, string Message)? RecordNameProblem(RouteDefinition route)
    {
        // The longest name a partition of the route can give: partition numbers go up to int.MaxValue.
        var name = StateDirLayout.RecordFileName(new PartitionKey(route.Cluster, route.Group, route.Topic, int.MaxValue));
        var length = Encoding.UTF8.GetByteCount(name);
        if (length <= MaxFileNameBytes)
            return null;

        static int Encoded(string cluster, string group, string topic) =>
            Encoding.UTF8.GetByteCount(StateDirLayout.RecordFileName(new PartitionKey(cluster, group, topic, 0)));
        var (key, value, _) = new[]
        {
            ("group", route.Group, Encoded("", route.Group, "")),
            ("cluster", route.Cluster, Encoded(route.Cluster, "", "")),
            ("topic", route.Topic, Encoded("", "", route.Topic)),
        }.MaxBy(k => k.Item3);
        return (key, value, string.Create(CultureInfo.InvariantCulture,
            $"too long: the partitions' local record file names ('{{cluster}}~{{group}}~{{topic}}~{{partition}}.offset', names percent-encoded) would be up to {length} bytes, over the file name limit of {MaxFileNameBytes}; shorten the group, cluster or topic name"));
    }
}
