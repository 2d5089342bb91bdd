using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace KafkaConsumerProxy.Files;

/// <summary>
/// Tells whether an open file is still the file at its path: a state directory deleted (or a file replaced) while
/// the process runs leaves the handle on an unlinked file, whose writes vanish. On Linux the kernel names the file
/// behind a descriptor in <c>/proc/self/fd</c> (with " (deleted)" once unlinked); elsewhere only the path's
/// existence is checked.
/// </summary>
internal readonly struct FileIdentity
{
    private readonly SafeFileHandle? _handle;
    private readonly string? _target;

    private FileIdentity(SafeFileHandle handle, string? target)
    {
        _handle = handle;
        _target = target;
    }

    /// <summary>The identity of <paramref name="handle"/>, taken right after it was opened at its path.</summary>
    public static FileIdentity Of(SafeFileHandle handle) => new(handle, Target(handle));

    /// <summary>True when the file is still linked at <paramref name="path"/>; a failed lookup counts as true.</summary>
    public bool IsAt(string path)
    {
        if (_handle is null || _target is null)
        {
            return File.Exists(path);
        }

        var now = Target(_handle);
        return now is null || (string.Equals(now, _target, StringComparison.Ordinal) && File.Exists(path));
    }

    private static string? Target(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || handle.IsInvalid || handle.IsClosed)
        {
            return null;
        }

        try
        {
            var link = string.Create(CultureInfo.InvariantCulture, $"/proc/self/fd/{handle.DangerousGetHandle().ToInt64()}");
            return new FileInfo(link).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
