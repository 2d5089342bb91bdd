using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// The local offset store under <c>{state_dir}/offsets/</c>: one 216-byte file per (cluster, group, topic, partition)
/// holding the offset below which everything was delivered or skipped, and the id of the cluster it was delivered from.
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
/// <para>
/// A record is evidence about one partition of one cluster only: its owner decides at assignment whether to trust it
/// (<see cref="StartPositionPolicy"/>). Files of the previous format (<c>KCPOFS01</c>, 72 bytes, no cluster id) are
/// read as records of an unknown cluster and rewritten in the current format when opened.
/// </para>
/// </summary>
internal sealed class LocalOffsetStore
{
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public LocalOffsetStore(string stateDir, ILogger logger, TimeProvider time)
    {
        _directory = Path.Combine(stateDir, StateDirLayout.OffsetsDirectory);
        Directory.CreateDirectory(_directory);
        _logger = logger;
        _time = time;
    }

    /// <summary>
    /// Reads a partition's record; null when there is none or it is damaged (damage is logged).
    /// <para>
    /// A read may run while the record's owner writes it (<c>kcp offsets show</c> beside a running kcp, another process
    /// sharing the state directory). Such a read is made consistent rather than promised less: the file is read until
    /// two reads agree (<see cref="ReadSettled"/>), which gives one moment at which the file held exactly the bytes
    /// parsed. The owner only moves its record forward and rewrites a slot only once the other slot holds a newer
    /// position, so the newest whole slot at a later moment is never behind the one at an earlier moment: a read never
    /// returns a position behind one an earlier read returned. Narrowing the promise instead would let an operator who
    /// runs <c>show</c> twice see a record move back that never did.
    /// </para>
    /// <para>
    /// The limit: agreement is sought for at most 1,000 reads, so that a reader never hangs. A writer that rewrites the
    /// file between every two of them (an owner writes once per finished message, under a lock held for a few stores,
    /// so none does for long) gets the last read, whose slots the checksums still guard but which may be the older slot.
    /// A writer rewriting in a loop without pause does reach the bound now and then, so the concurrent-read tests
    /// (RecordForwardTests) write with a pause between writes, as an owner does, and assert only this guarantee.
    /// </para>
    /// </summary>
    public LocalRecord? Read(PartitionKey key)
    {
        var path = PathOf(key);
        byte[] bytes;
        try
        {
            bytes = ReadSettled(path);
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
    /// <param name="key">The partition.</param>
    /// <param name="clusterId">
    /// The id of the cluster the owner consumes from, stored with every write; null when unknown (then a record found
    /// keeps its own id until <see cref="OffsetRecordFile.Discard"/>).
    /// </param>
    public OffsetRecordFile Open(PartitionKey key, string? clusterId) => new(PathOf(key), _directory, key, Read(key), clusterId, _time) { Logger = _logger };

    /// <summary>Replaces a record now, durably, whatever it held before (the offsets tool).</summary>
    public void WriteNow(PartitionKey key, long nextOffset, string? clusterId)
    {
        using var file = Open(key, clusterId);
        file.Discard();
        file.Write(nextOffset);
        file.Flush();
    }

    /// <summary>
    /// The file's bytes as they were at one moment. The owner may write while this reads (the offsets tool, another
    /// process); one read sees the two slots at different moments, so while the owner writes twice it can see the
    /// older slot still whole and the newer one being rewritten, and return a position behind one it returned before.
    /// Reading until two reads agree gives a moment at which the file held exactly those bytes: a slot rewritten starts
    /// with a higher sequence, so a slot that reads the same twice did not change in between, while the other was read.
    /// </summary>
    private static byte[] ReadSettled(string path)
    {
        // The writer holds its lock only for a few stores; agreement comes within a few reads. Bounded all the same:
        // a file rewritten without pause is read as last seen, whose slots the checksums still guard.
        const int MaxReads = 1000;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = (int)Math.Min(RandomAccess.GetLength(handle), 1 << 20);
        var previous = ReadAt(handle, length);
        for (var i = 1; i < MaxReads; i++)
        {
            var current = ReadAt(handle, length);
            if (current.AsSpan().SequenceEqual(previous))
            {
                return current;
            }

            previous = current;
        }

        return previous;
    }

    private static byte[] ReadAt(SafeFileHandle handle, int length)
    {
        var buffer = new byte[length];
        var read = 0;
        int n;
        while (read < length && (n = RandomAccess.Read(handle, buffer.AsSpan(read), read)) > 0)
        {
            read += n;
        }

        return read == length ? buffer : buffer[..read];
    }

    private string PathOf(PartitionKey key) => Path.Combine(_directory, StateDirLayout.RecordFileName(key));
}
