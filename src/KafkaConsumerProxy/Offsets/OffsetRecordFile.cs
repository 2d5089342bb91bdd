using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// One partition's record file, mapped into memory by the partition's owner. Thread-safe: with async delivery
/// several messages of a partition finish concurrently.
/// </summary>
internal sealed class OffsetRecordFile : IDisposable
{
    internal enum ParseState
    {
        Absent,
        Valid,
        Damaged,
    }

    // Layout: magic (8 bytes), then two slots. A slot: sequence (8), next offset (8), updated, Unix ms (8), cluster id
    // length (4), reserved (4), cluster id in UTF-8 (64, zero padded), checksum (8). Little-endian, as mapped.
    private const int SlotSize = 104;
    private const int Size = 8 + (2 * SlotSize);
    private const int IdLengthAt = 24;
    private const int IdAt = 32;
    private const int ChecksumAt = IdAt + LocalRecord.MaxStoredClusterIdBytes;
    private static readonly byte[] Magic = "KCPOFS02"u8.ToArray();

    // The previous format: 72 bytes, 32-byte slots (sequence, next, updated, checksum), no cluster id.
    private const int V1SlotSize = 32;
    private const int V1Size = 8 + (2 * V1SlotSize);
    private static readonly byte[] V1Magic = "KCPOFS01"u8.ToArray();

    // How often a write checks that the file is still the one at its path (state_dir deleted or replaced).
    private static readonly TimeSpan IdentityCheckInterval = TimeSpan.FromSeconds(1);

    // Failures after the first are logged at most this often.
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(30);

    private MemoryMappedFile _map;
    private MemoryMappedViewAccessor _view;
    private readonly TimeProvider _time;
    private readonly ulong _keyHash;
    private readonly string? _openedWithClusterId;
    private readonly Lock _lock = new();
    private byte[] _clusterIdBytes = [];
    private int _clusterIdLength;
    private ulong _sequence;
    private long _written = -1;
    private bool _disposed;

    // This owner's highest record: a completion that finishes late never moves the record back.
    private long _highest = -1;
    private FileIdentity _identity;
    private long _lastIdentityCheck;
    private int _failures;
    private long _lastFailureLog;
    private readonly string _path;
    private readonly string _directory;

    internal OffsetRecordFile(string path, string directory, PartitionKey key, LocalRecord? existing, string? clusterId, TimeProvider time)
    {
        _time = time;
        _openedWithClusterId = LocalRecord.StoredClusterId(clusterId);
        // With the cluster's id unknown, a record found keeps its own (until it is discarded as untrusted).
        SetClusterId(_openedWithClusterId ?? existing?.ClusterId);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var convert = stream.Length != Size && existing is not null;
        _keyHash = KeyHash(key);
        if (stream.Length != Size || existing is null)
        {
            // New, damaged and already reported, or of the previous format: start over in the current format; a record
            // of the previous format is carried over below.
            stream.Dispose();
            stream = CreateEmpty(path, directory);
        }

        _path = path;
        _directory = directory;
        _identity = FileIdentity.Of(stream.SafeFileHandle);
        _lastIdentityCheck = time.GetTimestamp();
        _map = MemoryMappedFile.CreateFromFile(stream, null, Size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, Size);
        _sequence = ReadSequence();
        Initial = existing;
        if (existing is { } record)
        {
            _written = record.NextOffset;
            if (convert)
            {
                WriteSlot(++_sequence, record.NextOffset, record.Updated.ToUnixTimeMilliseconds(), Encoding.UTF8.GetBytes(record.ClusterId ?? ""));
                _view.Flush();
            }
        }
    }

    /// <summary>
    /// An empty record file at <paramref name="path"/>, written whole to a temporary file and renamed over it: a write
    /// that fails (full disk) leaves the path as it was, never a file cut short that would later read as damaged. All
    /// of the file's bytes are written, so the mapping never touches a page the file system has yet to allocate.
    /// </summary>
    private static FileStream CreateEmpty(string path, string directory)
    {
        var temporary = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $".kcp-{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp"));
        // Unbuffered: a write that fails fails here, not again when the stream is disposed.
        var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        try
        {
            var content = new byte[Size];
            Magic.CopyTo(content, 0);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
            File.Move(temporary, path, overwrite: true);
            DirectorySync.Flush(directory);
            return stream;
        }
        catch
        {
            stream.Dispose();
            try
            {
                File.Delete(temporary);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left for the operator; the failure itself is what is reported.
            }

            throw;
        }
    }

    /// <summary>The record as it was when the file was opened; null when there was none, or it was damaged.</summary>
    public LocalRecord? Initial { get; }

    /// <summary>Where failures of this record are reported; null: not reported (the offsets tool reports its own).</summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// True when a write is due to check, once a second, that the file is still the one at its path: a <c>stat</c> that
    /// waits for the file system, and when the file is gone its re-creation with an <c>fsync</c>.
    /// </summary>
    public bool IdentityCheckDue => _time.GetElapsedTime(Volatile.Read(ref _lastIdentityCheck)) >= IdentityCheckInterval;

    /// <summary>
    /// Records that everything below <paramref name="nextOffset"/> is done; survives a process crash. The record only
    /// moves forward: a position at or below one this owner already wrote is ignored (async completions may arrive
    /// out of order). Never throws: a failure (the file's directory removed and not re-creatable) is logged at error and
    /// the write is retried with the next one; mode 3 learns of it from <see cref="Flush"/>.
    /// </summary>
    public void Write(long nextOffset) => Write(nextOffset, IdentityCheckDue);

    /// <summary>
    /// <see cref="Write(long)"/> with <see cref="IdentityCheckDue"/> as its caller read it (to move off a socket thread
    /// first when it is due): one clock reading per write.
    /// </summary>
    public void Write(long nextOffset, bool identityCheckDue)
    {
        lock (_lock)
        {
            // A delivery that outlived its partition's release may still finish; its owner has moved on.
            if (_disposed || nextOffset <= _highest)
            {
                return;
            }

            _highest = nextOffset;
            if (nextOffset != _written)
            {
                _written = nextOffset;
                var sequence = ++_sequence;
                var slot = 8 + (int)(sequence % 2) * SlotSize;
                var updated = _time.GetUtcNow().ToUnixTimeMilliseconds();
                _view.Write(slot, sequence);
                _view.Write(slot + 8, nextOffset);
                _view.Write(slot + 16, updated);
                _view.Write(slot + IdLengthAt, _clusterIdLength);
                _view.WriteArray(slot + IdAt, _clusterIdBytes, 0, _clusterIdBytes.Length);
                // The checksum goes last: a slot cut short by a crash fails it and the other slot is used.
                _view.Write(slot + ChecksumAt, Checksum(sequence, nextOffset, updated, _keyHash, _clusterIdBytes.AsSpan(0, _clusterIdLength)));
            }

            // Read again under the lock only when due, so that two writers due at once check once.
            if (identityCheckDue && _time.GetElapsedTime(_lastIdentityCheck) >= IdentityCheckInterval)
            {
                try
                {
                    EnsureAtPath();
                }
                catch (IOException ex)
                {
                    ReportFailure(ex);
                }
                catch (UnauthorizedAccessException ex)
                {
                    ReportFailure(ex);
                }
            }
        }
    }

    /// <summary>
    /// Forgets the record found (one its owner does not trust: another cluster's, or outside the partition's log):
    /// both slots are cleared, durably, so the next <see cref="Write"/> starts the record afresh at any offset, stamped
    /// with the cluster id given to <see cref="LocalOffsetStore.Open"/>. <see cref="Initial"/> still tells what was found.
    /// </summary>
    public void Discard()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var empty = new byte[2 * SlotSize];
            _view.WriteArray(8, empty, 0, empty.Length);
            _view.Flush();
            _written = -1;
            _highest = -1;
            SetClusterId(_openedWithClusterId);
        }
    }

    /// <summary>
    /// Flushes the record to disk (guarantee mode 3): it then survives a machine crash too. Returns the position that
    /// was flushed, which may be beyond the caller's (a later completion wrote first) but never behind what is on
    /// disk. Throws <see cref="IOException"/> when the flush failed (logged at error; the caller retries).
    /// </summary>
    public long Flush()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return _written;
            }

            try
            {
                // Every flush is a system call anyway: also make sure it reaches the file at the record's path.
                EnsureAtPath();
                var flushed = _written;
                _view.Flush();
                if (_failures > 0)
                {
                    if (Logger is { } logger)
                    {
                        Log.LocalRecordRecovered(logger, _path, _failures);
                    }

                    _failures = 0;
                }

                return flushed;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ReportFailure(ex);
                throw ex as IOException ?? new IOException(ex.Message, ex);
            }
        }
    }

    /// <summary>
    /// A state directory deleted (or this file replaced) while running leaves the mapping on an unlinked file whose
    /// updates vanish. Noticed here, the file is written anew at its path from the mapped record and mapped again.
    /// </summary>
    private void EnsureAtPath()
    {
        _lastIdentityCheck = _time.GetTimestamp();
        if (_identity.IsAt(_path))
        {
            if (_failures > 0 && Logger is { } logger)
            {
                Log.LocalRecordRecovered(logger, _path, _failures);
                _failures = 0;
            }

            return;
        }

        var content = new byte[Size];
        _view.ReadArray(0, content, 0, Size);
        Directory.CreateDirectory(_directory);
        // A short name: the record's own name may already be near the file system's limit.
        var temporary = Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $".kcp-{Environment.ProcessId}.tmp"));
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        MemoryMappedFile map;
        try
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
            File.Move(temporary, _path, overwrite: true);
            DirectorySync.Flush(_directory);
            _identity = FileIdentity.Of(stream.SafeFileHandle);
            map = MemoryMappedFile.CreateFromFile(stream, null, Size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

        var view = map.CreateViewAccessor(0, Size);
        _view.Dispose();
        _map.Dispose();
        _view = view;
        _map = map;
        if (Logger is { } log)
        {
            Log.LocalRecordRecreated(log, _path, _written);
        }

        if (_failures > 0 && Logger is { } again)
        {
            Log.LocalRecordRecovered(again, _path, _failures);
        }

        _failures = 0;
    }

    private void ReportFailure(Exception ex)
    {
        _failures++;
        if (Logger is { } logger && (_failures == 1 || _time.GetElapsedTime(_lastFailureLog) >= FailureLogInterval))
        {
            _lastFailureLog = _time.GetTimestamp();
            Log.LocalRecordWriteFailed(logger, _path, $"{ex.Message} (failure {_failures}; retried)");
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
        if (bytes.Length == V1Size && bytes[..8].SequenceEqual(V1Magic))
        {
            return ParseV1(bytes, key, out record);
        }

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
            sawData |= span.ContainsAnyExcept((byte)0);
            var sequence = BinaryPrimitives.ReadUInt64LittleEndian(span);
            var next = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
            var updated = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
            var idLength = BinaryPrimitives.ReadInt32LittleEndian(span[IdLengthAt..]);
            var checksum = BinaryPrimitives.ReadUInt64LittleEndian(span[ChecksumAt..]);
            if (sequence <= best || next < 0 || idLength is < 0 or > LocalRecord.MaxStoredClusterIdBytes)
            {
                continue;
            }

            var id = span.Slice(IdAt, idLength);
            if (checksum == Checksum(sequence, next, updated, keyHash, id))
            {
                best = sequence;
                record = new LocalRecord(next, DateTimeOffset.FromUnixTimeMilliseconds(updated), idLength == 0 ? null : Encoding.UTF8.GetString(id));
            }
        }

        return best > 0 ? ParseState.Valid : sawData ? ParseState.Damaged : ParseState.Absent;
    }

    // A record of the previous format: its cluster is unknown.
    private static ParseState ParseV1(ReadOnlySpan<byte> bytes, PartitionKey key, out LocalRecord record)
    {
        record = default;
        var keyHash = KeyHash(key);
        ulong best = 0;
        var sawData = false;
        for (var slot = 8; slot < V1Size; slot += V1SlotSize)
        {
            var span = bytes.Slice(slot, V1SlotSize);
            var sequence = BinaryPrimitives.ReadUInt64LittleEndian(span);
            var next = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
            var updated = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
            var checksum = BinaryPrimitives.ReadUInt64LittleEndian(span[24..]);
            sawData |= sequence != 0 || next != 0 || updated != 0 || checksum != 0;
            if (sequence > best && next >= 0 && checksum == ChecksumV1(sequence, next, updated, keyHash))
            {
                best = sequence;
                record = new LocalRecord(next, DateTimeOffset.FromUnixTimeMilliseconds(updated));
            }
        }

        return best > 0 ? ParseState.Valid : sawData ? ParseState.Damaged : ParseState.Absent;
    }

    /// <summary>A file of the previous format holding <paramref name="nextOffset"/>, for tests of the conversion.</summary>
    internal static byte[] FormatV1(PartitionKey key, long nextOffset, DateTimeOffset updated)
    {
        var bytes = new byte[V1Size];
        V1Magic.CopyTo(bytes, 0);
        var span = bytes.AsSpan(8 + V1SlotSize);
        var ms = updated.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteUInt64LittleEndian(span, 1);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], nextOffset);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], ms);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], ChecksumV1(1, nextOffset, ms, KeyHash(key)));
        return bytes;
    }

    private void SetClusterId(string? storedClusterId)
    {
        var bytes = Encoding.UTF8.GetBytes(storedClusterId ?? "");
        _clusterIdLength = bytes.Length;
        _clusterIdBytes = new byte[LocalRecord.MaxStoredClusterIdBytes];
        bytes.CopyTo(_clusterIdBytes, 0);
    }

    private void WriteSlot(ulong sequence, long nextOffset, long updated, byte[] clusterId)
    {
        var slot = 8 + (int)(sequence % 2) * SlotSize;
        var padded = new byte[LocalRecord.MaxStoredClusterIdBytes];
        clusterId.CopyTo(padded, 0);
        _view.Write(slot, sequence);
        _view.Write(slot + 8, nextOffset);
        _view.Write(slot + 16, updated);
        _view.Write(slot + IdLengthAt, clusterId.Length);
        _view.WriteArray(slot + IdAt, padded, 0, padded.Length);
        _view.Write(slot + ChecksumAt, Checksum(sequence, nextOffset, updated, _keyHash, clusterId));
    }

    private ulong ReadSequence()
    {
        var a = _view.ReadUInt64(8);
        var b = _view.ReadUInt64(8 + SlotSize);
        return Math.Max(a, b);
    }

    // Detects torn or foreign slots, not tampering: a 64-bit mix (splitmix64 finalizer) of the fields and the key.
    private static ulong Checksum(ulong sequence, long next, long updated, ulong keyHash, ReadOnlySpan<byte> clusterId)
    {
        var h = ChecksumV1(sequence, next, updated, keyHash);
        h = Mix(h ^ Fnv(clusterId) ^ (ulong)clusterId.Length);
        return h;
    }

    private static ulong ChecksumV1(ulong sequence, long next, long updated, ulong keyHash)
    {
        var h = keyHash;
        h = Mix(h ^ sequence);
        h = Mix(h ^ (ulong)next);
        h = Mix(h ^ (ulong)updated);
        return h;
    }

    private static ulong KeyHash(PartitionKey key) => Fnv(Encoding.UTF8.GetBytes(key.ToString()));

    // FNV-1a: stable across processes, unlike string.GetHashCode.
    private static ulong Fnv(ReadOnlySpan<byte> bytes)
    {
        var h = 14695981039346656037UL;
        foreach (var b in bytes)
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
