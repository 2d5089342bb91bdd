using System.Globalization;
using System.Net;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// Who listens on a TCP port that kcp cannot bind, for the message of a failed start: the listening socket is a line of
/// <c>/proc/net/tcp</c> (or <c>tcp6</c>) in state LISTEN with that port, which names its owner (uid) and its inode; the
/// process is the one with a descriptor linked to <c>socket:[inode]</c> (found only among the processes this user may
/// look into). Linux only; read once, when the start fails.
/// </summary>
internal static class ListenerOwner
{
    private const int LocalColumn = 1, StateColumn = 3, UidColumn = 7, InodeColumn = 9;
    private const string Listen = "0A";

    // Bounds the search on a machine with very many processes: the start fails anyway, the message only says less.
    private const int MaxProcesses = 5000;

    /// <summary>
    /// E.g. <c>by pid 4242 (dotnet kcp.dll run --config /etc/kcp/kcp.yaml)</c>, <c>by a process of uid 1001</c>, or
    /// null when no listener is found.
    /// </summary>
    public static string? Describe(IPEndPoint endPoint)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var port = endPoint.Port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            try
            {
                foreach (var line in File.ReadLines(file).Skip(1))
                {
                    var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (columns.Length > InodeColumn && columns[StateColumn] == Listen && columns[LocalColumn].EndsWith(":" + port, StringComparison.Ordinal))
                    {
                        return Process(columns[InodeColumn]) is { } process ? $"by {process}" : $"by a process of uid {columns[UidColumn]}";
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // No IPv6 (no tcp6), or /proc not mounted.
            }
        }

        return null;
    }

    private static string? Process(string inode)
    {
        var socket = $"socket:[{inode}]";
        IEnumerable<string> processes;
        try
        {
            processes = Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out _)).Take(MaxProcesses).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        foreach (var process in processes)
        {
            try
            {
                foreach (var fd in Directory.EnumerateFiles(Path.Combine(process, "fd")))
                {
                    if (new FileInfo(fd).LinkTarget == socket)
                    {
                        var command = File.ReadAllText(Path.Combine(process, "cmdline")).Replace('\0', ' ').Trim();
                        var pid = Path.GetFileName(process);
                        return command.Length == 0 ? $"pid {pid}" : $"pid {pid} ({Telemetry.LogText.Escape(command, 200)})";
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another user's process, or one that ended meanwhile.
            }
        }

        return null;
    }
}
