using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads one config file as text, refusing what would hang or exhaust the process: anything but a regular file (a
/// FIFO would block the open forever, a device would never end), more than <see cref="MaxBytes"/>, and bytes that are
/// not UTF-8 (which would otherwise silently become U+FFFD).
/// </summary>
internal static partial class ConfigFile
{
    /// <summary>1 MiB: a config file's size limit. A route file is a few hundred bytes; a main file with many clusters a few KiB.</summary>
    public const int MaxBytes = 1 << 20;

    private const int ORdOnly = 0, ONonBlock = 0x800, OCloExec = 0x80000;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int SIfMt = 0xF000, SIfReg = 0x8000;

    /// <summary>
    /// The file's text, or null after adding the reason to <paramref name="errors"/>. <paramref name="what"/> names the
    /// kind of file in the reason ("a config file", "a PEM file", ...): every file kcp reads because a config names it is
    /// read this way, so none can hang a start or a reload.
    /// </summary>
    public static string? ReadText(string file, List<ConfigError> errors, string what = "a config file")
    {
        var bytes = OperatingSystem.IsLinux() ? ReadLinux(file, errors, what) : ReadPortable(file, errors, what);
        if (bytes is null)
            return null;

        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8))
            span = span[3..];
        if (Utf8.IsValid(span))
            return Encoding.UTF8.GetString(span);

        errors.Add(new ConfigError(file, null, null, DescribeInvalidUtf8(span, bytes.Length - span.Length, what)));
        return null;
    }

    // The open never blocks (O_NONBLOCK: a FIFO without a writer opens at once), and the type is asked of the open file,
    // so a file swapped for a FIFO between a check and the open cannot slip through.
    private static byte[]? ReadLinux(string file, List<ConfigError> errors, string what)
    {
        var fd = open(file, ORdOnly | ONonBlock | OCloExec);
        if (fd < 0)
        {
            errors.Add(new ConfigError(file, null, null, $"cannot read file: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}"));
            return null;
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var status = new byte[256];
        if (statx(fd, "", AtEmptyPath, StatxType, status) == 0)
        {
            // struct statx: stx_mode is the u16 at offset 28 on every architecture.
            var mode = BitConverter.ToUInt16(status, 28);
            if ((mode & SIfMt) != SIfReg)
            {
                errors.Add(new ConfigError(file, null, null, $"is {Kind(mode & SIfMt)}, not a regular file; {what} must be a regular file"));
                return null;
            }
        }
        else if (Directory.Exists(file))
        {
            errors.Add(new ConfigError(file, null, null, $"is a directory, not a regular file; {what} must be a regular file"));
            return null;
        }

        return ReadBounded(file, handle, errors, what);
    }

    private static byte[]? ReadPortable(string file, List<ConfigError> errors, string what)
    {
        if (Directory.Exists(file))
        {
            errors.Add(new ConfigError(file, null, null, $"is a directory, not a regular file; {what} must be a regular file"));
            return null;
        }

        try
        {
            using var handle = File.OpenHandle(file);
            return ReadBounded(file, handle, errors, what);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add(new ConfigError(file, null, null, $"cannot read file: {e.Message}"));
            return null;
        }
    }

    // Reads at most one byte past the limit, whatever the file claims its size is (it may grow while being read).
    private static byte[]? ReadBounded(string file, SafeFileHandle handle, List<ConfigError> errors, string what)
    {
        var buffer = new byte[MaxBytes + 1];
        var length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = RandomAccess.Read(handle, buffer.AsSpan(length), length)) > 0)
                length += read;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            errors.Add(new ConfigError(file, null, null, $"cannot read file: {e.Message}"));
            return null;
        }

        if (length > MaxBytes)
        {
            errors.Add(new ConfigError(file, null, null, string.Create(CultureInfo.InvariantCulture,
                $"is larger than {MaxBytes} bytes (1 MiB), the limit for {what}")));
            return null;
        }

        return buffer[..length];
    }

    private static string DescribeInvalidUtf8(ReadOnlySpan<byte> text, int bomLength, string what)
    {
        var index = 0;
        while (Rune.DecodeFromUtf8(text[index..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
            index += consumed;

        var before = text[..index];
        var line = before.Count((byte)'\n') + 1;
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        var column = Encoding.UTF8.GetCharCount(before[lineStart..]) + 1;
        return string.Create(CultureInfo.InvariantCulture,
            $"is not valid UTF-8: byte 0x{text[index]:X2} at byte offset {index + bomLength} (line {line}, column {column}); {what} must be UTF-8");
    }

    private static string Kind(int type) => type switch
    {
        0x1000 => "a FIFO (named pipe)",
        0x2000 => "a character device",
        0x4000 => "a directory",
        0x6000 => "a block device",
        0xA000 => "a symbolic link",
        0xC000 => "a socket",
        _ => "a special file",
    };

    /// <summary>
    /// Null when a directory can be created in <paramref name="directory"/> (one is created and removed again),
    /// otherwise the system's reason, e.g. "Read-only file system".
    /// </summary>
    public static string? CreateDirectoryProblem(string directory)
    {
        var probe = Path.Combine(directory, $".kcp-write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        if (OperatingSystem.IsLinux())
        {
            if (mkdir(probe, 0x1C0) != 0)
                return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            _ = rmdir(probe);
            return null;
        }

        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, int mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rmdir(string path);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);
}
