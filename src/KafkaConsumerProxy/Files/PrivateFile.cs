using Microsoft.Win32.SafeHandles;

namespace KafkaConsumerProxy.Files;

/// <summary>
/// Files of state_dir that hold message keys or audit data (skip records, the audit log, operator state) are readable
/// by kcp's own user only: created 0600 in directories kcp creates 0700, and a file found with wider permissions (made
/// by an older kcp) is narrowed when kcp opens it.
/// </summary>
internal static class PrivateFile
{
    /// <summary>0600.</summary>
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0700.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) 0700; an existing directory is left as it is.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, DirectoryMode);
    }

    /// <summary>Opens <paramref name="path"/> for appending, created 0600, narrowed to 0600 when it is wider.</summary>
    public static FileStream OpenAppend(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = Mode;
        }

        var stream = new FileStream(path, options);
        Narrow(stream.SafeFileHandle);
        return stream;
    }

    /// <summary>Drops the group and other permissions of an open file; a file of another user is left as it is.</summary>
    public static void Narrow(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            var mode = File.GetUnixFileMode(handle);
            if ((mode & Others) != 0)
            {
                File.SetUnixFileMode(handle, mode & ~Others);
            }
        }
        catch (UnauthorizedAccessException)
        {
            // Not ours (a state_dir shared with another user on purpose): its owner decides.
        }
    }
}
