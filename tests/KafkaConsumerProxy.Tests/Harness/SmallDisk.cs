using System.Diagnostics;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A tmpfs of a few hundred KiB mounted for one test, to fill a state directory for real; null from
/// <see cref="TryMount"/> when this process may not mount (not root, or not Linux).
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private readonly bool _ownsDirectory;

    private SmallDisk(string directory, bool ownsDirectory)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
    }

    public string Directory { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> on <paramref name="directory"/> (created if missing), or on a new temporary directory.</summary>
    public static SmallDisk? TryMount(int bytes, string? directory = null)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var owns = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("kcp-tmpfs-").FullName;
        System.IO.Directory.CreateDirectory(directory);
        if (Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", directory) == 0)
        {
            return new SmallDisk(directory, owns);
        }

        if (owns)
        {
            System.IO.Directory.Delete(directory);
        }

        return null;
    }

    /// <summary>Fills the disk with one file and returns its path; delete it to free the space.</summary>
    public string Fill()
    {
        var path = Path.Combine(Directory, "filler");
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var block = new byte[4096];
        try
        {
            // Bounded: the disk is a few hundred KiB.
            for (var i = 0; i < 100_000; i++)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
            // Full.
        }

        return path;
    }

    public void Dispose()
    {
        // A lazy unmount detaches at once; one that did not finish (a starved machine) leaves the directory for the
        // temporary directory's cleanup rather than failing the test in its dispose.
        if (Run("umount", "-l", Directory) == 0 && _ownsDirectory)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static int Run(string command, params string[] args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(command, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit(10_000);
            return process.HasExited ? process.ExitCode : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
