namespace KafkaConsumerProxy.Tls;

/// <summary>
/// A value read from files and read again when any of them changes (length or modification time), checked at each
/// <see cref="Current"/>: one stat per file per new connection. A value that cannot be read fails the connection with
/// the reason, and is tried again at the next one (a rotation that wrote the certificate but not yet the key).
/// </summary>
internal sealed class ReloadingFiles<T>(string[] paths, Func<(T? Value, string? Problem)> load, Action<T> release) : IDisposable
    where T : class
{
    private readonly Lock _lock = new();
    private (long Length, DateTime Written)[] _stamps = [];
    private T? _value;

    public T Current()
    {
        var stamps = paths.Select(Stamp).ToArray();
        lock (_lock)
        {
            if (_value is not null && stamps.SequenceEqual(_stamps))
                return _value;
            var (value, problem) = load();
            if (value is null)
                throw new TlsFailureException(problem ?? "cannot be read");

            // The previous value is not disposed: a connection being opened may still be using it.
            _value = value;
            _stamps = stamps;
            return value;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_value is not null)
                release(_value);
            _value = null;
        }
    }

    private static (long, DateTime) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, default);
    }
}
