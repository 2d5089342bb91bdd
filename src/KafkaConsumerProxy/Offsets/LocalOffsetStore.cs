using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
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
/// The local offset store under <c>{state_dir}/offsets/</c>: one 72-byte file per (cluster, group, topic, partition)
/// holding the offset below which everything was delivered or skipped.
/// <para>
/// One file per partition because a partition has one owner at a time, so processes sharing a state directory never
/// write the same record together. The owner maps its file into memory and updates it after every finished message:
/// a store into shared memory, no system call and no disk flush, yet it survives the process being killed because the
/// kernel owns the page. The operating system writes the page back in its own batches; guarantee mode 3 additionally
/// flushes it to disk (msync) before a message counts as done, so the record also survives a machine crash.
/// </para>
/// <para>
/// The file has two slots written alternately, each with a sequence number and a checksum, so a crash in the middle
/// of an update leaves the previous slot intact; a file with no valid slot is reported as damaged and treated as
/// absent. The files never grow: the store's size depends only on the number of partitions.
/// </para>
/// </summary>
public sealed class LocalOffsetStore
{
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public LocalOffsetStore(string stateDir, ILogger logger, TimeProvider time)
    {
        _directory = Path.Combine(stateDir, "offsets");
        Directory.CreateDirectory(_directory);
        _logger = logger;
        _time = time;
    }

    /// <summary>Reads a partition's record; null when there is none or it is damaged (damage is logged).</summary>
    public LocalRecord? Read(PartitionKey key)
    {
        var path = PathOf(key);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        var state = OffsetRecordFile.Parse(bytes, key, out var record);
        if (state == OffsetRecordFile.ParseState.Damaged)
        {
            Log.LocalRecordDamaged(_logger, key.ToString(), path);
        }

        return state == OffsetRecordFile.ParseState.Valid ? record : null;
    }

    /// <summary>
    /// Maps a partition's record for its owner (its <see cref="OffsetRecordFile.Initial"/> is the record as found);
    /// dispose it when the partition is released.
    /// </summary>
    public OffsetRecordFile Open(PartitionKey key) => new(PathOf(key), _directory, key, Read(key), _time);

    /// <summary>Writes a record now, durably (the offsets tool).</summary>
    public void WriteNow(PartitionKey key, long nextOffset)
    {
        using var file = Open(key);
        file.Write(nextOffset);
        file.Flush();
    }

    /// <summary>The name of a partition's record file in <c>{state_dir}/offsets/</c>; the config validator checks its length.</summary>
    internal static string FileNameOf(PartitionKey key) =>
        string.Create(CultureInfo.InvariantCulture, $"{Escape(key.Cluster)}~{Escape(key.Group)}~{Escape(key.Topic)}~{key.Partition}.offset");

    private string PathOf(PartitionKey key) => Path.Combine(_directory, FileNameOf(key));

    // Group and cluster names may hold characters a file name cannot; topic names are already safe.
    private static string Escape(string name) => Uri.EscapeDataString(name).Replace("~", "%7E", StringComparison.Ordinal);
}

/// <summary>
/// One partition's record file, mapped into memory by the partition's owner. Thread-safe: with async delivery
/// several messages of a partition finish concurrently.
/// </summary>
public sealed class OffsetRecordFile : IDisposable
{
    internal enum ParseState
    {
        Absent,
        Valid,
        Damaged,
    }

    private const int SlotSize = 32;
    private const int Size = 8 + (2 * SlotSize);
    private static readonly byte[] Magic = "KCPOFS01"u8.ToArray();

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly TimeProvider _time;
    private readonly ulong _keyHash;
    private readonly Lock _lock = new();
    private ulong _sequence;
    private long _written = -1;
    private bool _disposed;

    internal OffsetRecordFile(string path, string directory, PartitionKey key, LocalRecord? existing, TimeProvider time)
    {
        _time = time;
        _keyHash = KeyHash(key);
        var created = !File.Exists(path);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length != Size || existing is null)
        {
            // New, or damaged and already reported: start over with an empty record.
            stream.SetLength(0);
            stream.SetLength(Size);
            stream.Write(Magic);
            stream.Flush(flushToDisk: true);
            if (created)
            {
                DirectorySync.Flush(directory);
            }
        }

        _map = MemoryMappedFile.CreateFromFile(stream, null, Size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, Size);
        _sequence = ReadSequence();
        Initial = existing;
        if (existing is { } record)
        {
            _written = record.NextOffset;
        }
    }

    /// <summary>The record as it was when the file was opened; null when there was none, or it was damaged.</summary>
    public LocalRecord? Initial { get; }

    /// <summary>Records that everything below <paramref name="nextOffset"/> is done; survives a process crash.</summary>
    public void Write(long nextOffset)
    {
        lock (_lock)
        {
            // A delivery that outlived its partition's release may still finish; its owner has moved on.
            if (_disposed || nextOffset == _written)
            {
                return;
            }

            _written = nextOffset;
            var sequence = ++_sequence;
            var slot = 8 + (int)(sequence % 2) * SlotSize;
            var updated = _time.GetUtcNow().ToUnixTimeMilliseconds();
            _view.Write(slot, sequence);
            _view.Write(slot + 8, nextOffset);
            _view.Write(slot + 16, updated);
            // The checksum goes last: a slot cut short by a crash fails it and the other slot is used.
            _view.Write(slot + 24, Checksum(sequence, nextOffset, updated, _keyHash));
        }
    }

    /// <summary>Flushes the record to disk (guarantee mode 3): it then survives a machine crash too.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                _view.Flush();
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _view.Dispose();
            _map.Dispose();
        }
    }

    internal static ParseState Parse(ReadOnlySpan<byte> bytes, PartitionKey key, out LocalRecord record)
    {
        record = default;
        if (bytes.Length != Size || !bytes[..8].SequenceEqual(Magic))
        {
            return bytes.Length == 0 ? ParseState.Absent : ParseState.Damaged;
        }

        var keyHash = KeyHash(key);
        ulong best = 0;
        var sawData = false;
        for (var slot = 8; slot < Size; slot += SlotSize)
        {
            var span = bytes.Slice(slot, SlotSize);
            var sequence = BinaryPrimitives.ReadUInt64LittleEndian(span);
            var next = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
            var updated = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
            var checksum = BinaryPrimitives.ReadUInt64LittleEndian(span[24..]);
            sawData |= sequence != 0 || next != 0 || updated != 0 || checksum != 0;
            if (sequence > best && next >= 0 && checksum == Checksum(sequence, next, updated, keyHash))
            {
                best = sequence;
                record = new LocalRecord(next, DateTimeOffset.FromUnixTimeMilliseconds(updated));
            }
        }

        return best > 0 ? ParseState.Valid : sawData ? ParseState.Damaged : ParseState.Absent;
    }

    private ulong ReadSequence()
    {
        var a = _view.ReadUInt64(8);
        var b = _view.ReadUInt64(8 + SlotSize);
        return Math.Max(a, b);
    }

    // Detects torn or foreign slots, not tampering: a 64-bit mix (splitmix64 finalizer) of the fields and the key.
    private static ulong Checksum(ulong sequence, long next, long updated, ulong keyHash)
    {
        var h = keyHash;
        h = Mix(h ^ sequence);
        h = Mix(h ^ (ulong)next);
        h = Mix(h ^ (ulong)updated);
        return h;
    }

    private static ulong KeyHash(PartitionKey key)
    {
        // FNV-1a: stable across processes, unlike string.GetHashCode.
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(key.ToString()))
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>Flushes a directory entry to disk; .NET cannot open a directory as a file, so this goes to libc.</summary>
internal static partial class DirectorySync
{
    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open {directory} to flush it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"cannot flush {directory} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
