using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KafkaConsumerProxy.Files;

/// <summary>
/// A file that several processes append whole lines to (the skip records). On Linux each line is one <c>write</c> on an
/// <c>O_APPEND</c> descriptor under an exclusive <c>flock</c>, then <c>fsync</c>; a write that fails part-way is cut
/// back to where the file ended, so readers never see a torn line. .NET's own append mode seeks once and then writes
/// at its own position, so two processes would overwrite each other's lines; hence libc. Elsewhere a
/// <see cref="FileStream"/> does the same within one process.
/// </summary>
internal sealed partial class AppendFile : IDisposable
{
    private const int ORdWr = 0x2, OCreat = 0x40, OAppend = 0x400, OCloexec = 0x80000;
    private const int LockEx = 2, LockUn = 8, SeekEnd = 2;
    private const int Mode0600 = 384;

    private readonly SafeFileHandle? _handle;
    private readonly FileStream? _stream;
    private readonly FileIdentity _identity;

    private AppendFile(SafeFileHandle handle, FileStream? stream)
    {
        _handle = stream is null ? handle : null;
        _stream = stream;
        _identity = FileIdentity.Of(handle);
    }

    public static AppendFile Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            var stream = PrivateFile.OpenAppend(path);
            return new AppendFile(stream.SafeFileHandle, stream);
        }

        var fd = open(path, ORdWr | OCreat | OAppend | OCloexec, Mode0600);
        if (fd < 0)
        {
            throw Error("cannot open " + path);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        PrivateFile.Narrow(handle);
        return new AppendFile(handle, null);
    }

    /// <summary>True while the open file is still the one at <paramref name="path"/> (not deleted or replaced).</summary>
    public bool IsAtPath(string path) => _identity.IsAt(path);

    /// <summary>Appends <paramref name="line"/> (ending in a newline) durably, or throws <see cref="IOException"/> leaving the file as it was.</summary>
    public void Append(byte[] line)
    {
        if (_stream is not null)
        {
            AppendStream(_stream, line);
            return;
        }

        var fd = (int)_handle!.DangerousGetHandle();
        if (flock(fd, LockEx) != 0)
        {
            throw Error("cannot lock the file");
        }

        try
        {
            var end = lseek(fd, 0, SeekEnd);
            if (end < 0)
            {
                throw Error("cannot find the end of the file");
            }

            var data = line;
            if (end > 0 && LastByte(fd, end) != (byte)'\n')
            {
                // A torn tail left by a crash of the machine: the record starts on a line of its own.
                data = [(byte)'\n', .. line];
            }

            var written = Write(fd, data);
            if (written != data.Length)
            {
                var error = written < 0 ? Error("write failed") : new IOException($"short write: {written} of {data.Length} bytes (disk full?)");
                _ = ftruncate(fd, end);
                throw error;
            }

            if (fsync(fd) != 0)
            {
                // Not known to be on disk: take it back, the caller writes it again.
                var error = Error("flush to disk failed");
                _ = ftruncate(fd, end);
                throw error;
            }
        }
        finally
        {
            _ = flock(fd, LockUn);
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _handle?.Dispose();
    }

    private static void AppendStream(FileStream stream, byte[] line)
    {
        var end = stream.Length;
        try
        {
            stream.Write(line);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            stream.SetLength(end);
            throw;
        }
    }

    private static unsafe int LastByte(int fd, long end)
    {
        byte last;
        return pread(fd, &last, 1, end - 1) == 1 ? last : -1;
    }

    private static unsafe long Write(int fd, byte[] data)
    {
        fixed (byte* p = data)
        {
            // One write: O_APPEND places it at the end atomically; regular files do not take partial writes except on
            // errors such as a full disk, which are reported above.
            return write(fd, p, data.Length);
        }
    }

    private static IOException Error(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pread(int fd, byte* buffer, nint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
