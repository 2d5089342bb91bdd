using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>Identifies one partition of one consumer group on one cluster.</summary>
public readonly record struct PartitionKey(string Cluster, string Group, string Topic, int Partition)
{
    public override string ToString() => $"{Cluster}/{Group}/{Topic}/{Partition}";
}

/// <summary>A partition's local record: every offset below <see cref="NextOffset"/> was delivered or skipped.</summary>
public readonly record struct LocalRecord(long NextOffset, DateTimeOffset Updated)
{
    /// <summary>The last offset delivered or skipped.</summary>
    public long LastDone => NextOffset - 1;
}

/// <summary>
/// The local offset store under <c>{state_dir}/offsets/</c>: one small file per (cluster, group, topic, partition),
/// holding the offset below which everything was delivered or skipped.
/// <para>
/// One file per partition because a partition has one owner at a time, so processes sharing a state directory
/// never write the same file together. Each write goes to a temporary file that is renamed over the old one, so a
/// crash leaves either the old or the new record, never a torn one; a checksum line catches any other damage, and a
/// damaged file is reported and treated as absent. Files are rewritten in place, so the store's size depends only
/// on the number of partitions.
/// </para>
/// <para>
/// Writes are batched: <see cref="Record"/> only marks a partition dirty, and a background loop writes every dirty
/// partition once per <see cref="FlushInterval"/>. In durable mode (guarantee mode 3) each write is flushed to disk
/// (file and directory fsync) and <see cref="RecordDurableAsync"/> completes only then; waiters that arrive during a
/// flush share the next one.
/// </para>
/// </summary>
public sealed class LocalOffsetStore : IAsyncDisposable
{
    /// <summary>How often recorded positions are written in modes 1 and 2.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);

    private const string Version = "kcp-offset-v1";

    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private Dictionary<PartitionKey, long> _dirty = [];
    private TaskCompletionSource? _nextDurableFlush;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _writeLock = new();

    public LocalOffsetStore(string stateDir, ILogger logger, TimeProvider time)
    {
        _directory = Path.Combine(stateDir, "offsets");
        Directory.CreateDirectory(_directory);
        _logger = logger;
        _time = time;
        _loop = Task.Run(FlushLoopAsync);
    }

    /// <summary>Reads a partition's record; null when there is none or it is damaged (damage is logged).</summary>
    public LocalRecord? Read(PartitionKey key)
    {
        var path = PathOf(key);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        if (TryParse(text, key, out var record))
        {
            return record;
        }

        Log.LocalRecordDamaged(_logger, key.ToString(), path);
        return null;
    }

    /// <summary>Records that everything below <paramref name="nextOffset"/> is done; written at the next flush.</summary>
    public void Record(PartitionKey key, long nextOffset) => Enqueue(key, nextOffset, durable: false);

    /// <summary>Records and completes once the record is on disk (flushed and fsynced).</summary>
    public Task RecordDurableAsync(PartitionKey key, long nextOffset) => Enqueue(key, nextOffset, durable: true);

    /// <summary>Writes a record now, durably (used by the offsets tool and on offset restore).</summary>
    public void WriteNow(PartitionKey key, long nextOffset) => Write(key, nextOffset, durable: true);

    /// <summary>Removes a partition's record (the offsets tool, when the group's offsets are reset).</summary>
    public void Delete(PartitionKey key)
    {
        lock (_writeLock)
        {
            File.Delete(PathOf(key));
        }
    }

    private Task Enqueue(PartitionKey key, long nextOffset, bool durable)
    {
        Task durableWrite;
        lock (_gate)
        {
            _dirty[key] = _dirty.TryGetValue(key, out var known) ? Math.Max(known, nextOffset) : nextOffset;
            if (!durable)
            {
                return Task.CompletedTask;
            }

            _nextDurableFlush ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            durableWrite = _nextDurableFlush.Task;
        }

        _wake.Release();
        return durableWrite;
    }

    private async Task FlushLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(FlushInterval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            FlushDirty();
        }

        FlushDirty();
    }

    private void FlushDirty()
    {
        Dictionary<PartitionKey, long> dirty;
        TaskCompletionSource? waiters;
        lock (_gate)
        {
            if (_dirty.Count == 0)
            {
                return;
            }

            (dirty, _dirty) = (_dirty, []);
            (waiters, _nextDurableFlush) = (_nextDurableFlush, null);
        }

        Exception? failure = null;
        foreach (var (key, nextOffset) in dirty)
        {
            try
            {
                Write(key, nextOffset, durable: waiters is not null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.LocalRecordWriteFailed(_logger, key.ToString(), ex.Message);
                failure = ex;
            }
        }

        if (failure is null)
        {
            waiters?.TrySetResult();
        }
        else
        {
            waiters?.TrySetException(failure);
        }
    }

    private void Write(PartitionKey key, long nextOffset, bool durable)
    {
        var path = PathOf(key);
        var temp = path + ".tmp";
        var content = Format(key, new LocalRecord(nextOffset, _time.GetUtcNow()));
        lock (_writeLock)
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
            {
                file.Write(content);
                if (durable)
                {
                    file.Flush(flushToDisk: true);
                }
            }

            File.Move(temp, path, overwrite: true);
            if (durable)
            {
                SyncDirectory();
            }
        }
    }

    // The rename itself is durable only once the directory entry is flushed; .NET cannot open a directory as a
    // file, so this goes to libc.
    private void SyncDirectory()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = DirectorySync.open(_directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open {_directory} to flush it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (DirectorySync.fsync(fd) != 0)
            {
                throw new IOException($"cannot flush {_directory} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = DirectorySync.close(fd);
        }
    }

    private string PathOf(PartitionKey key) =>
        Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $"{Escape(key.Cluster)}~{Escape(key.Group)}~{Escape(key.Topic)}~{key.Partition}.offset"));

    // Group and cluster names may hold characters a file name cannot; topic names are already safe.
    private static string Escape(string name) => Uri.EscapeDataString(name).Replace("~", "%7E", StringComparison.Ordinal);

    internal static byte[] Format(PartitionKey key, LocalRecord record)
    {
        var payload = JsonSerializer.Serialize(new StoredRecord(Version, key.Cluster, key.Group, key.Topic, key.Partition, record.NextOffset, record.Updated.ToUnixTimeMilliseconds()), StoreJson.Default.StoredRecord);
        return Encoding.UTF8.GetBytes(payload + "\n" + Checksum(payload) + "\n");
    }

    internal static bool TryParse(string text, PartitionKey key, out LocalRecord record)
    {
        record = default;
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length != 2 || lines[1] != Checksum(lines[0]))
        {
            return false;
        }

        try
        {
            var stored = JsonSerializer.Deserialize(lines[0], StoreJson.Default.StoredRecord);
            if (stored is null || stored.Version != Version || stored.Cluster != key.Cluster || stored.Group != key.Group
                || stored.Topic != key.Topic || stored.Partition != key.Partition || stored.NextOffset < 0)
            {
                return false;
            }

            record = new LocalRecord(stored.NextOffset, DateTimeOffset.FromUnixTimeMilliseconds(stored.UpdatedMs));
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Checksum(string payload) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(payload)));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }
}

internal sealed record StoredRecord(string Version, string Cluster, string Group, string Topic, int Partition, long NextOffset, long UpdatedMs);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StoredRecord))]
internal sealed partial class StoreJson : System.Text.Json.Serialization.JsonSerializerContext;

internal static partial class DirectorySync
{
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);
}
