using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// The order of <c>ordering: key</c> within one partition: a message may go when no earlier message with the same key
/// is unfinished; otherwise it waits behind that key, and is released when the one before it finishes. Keys are
/// compared by their bytes; all null-key messages count as one key. Only keys with a message in flight are kept, so
/// the state is bounded by the partition's pending messages.
/// Thread-safe: the consumer thread admits while delivery completions release.
/// </summary>
internal sealed class KeyScheduler
{
    private readonly Lock _lock = new();

    // Keys with a message admitted and not finished, each with the messages waiting behind it (null: none yet).
    private readonly Dictionary<byte[], Queue<KafkaRecord>?> _busy = new(KeyComparer.Instance);
    private bool _nullKeyBusy;
    private Queue<KafkaRecord>? _nullKeyWaiting;

    /// <summary>Keys with a message in flight (for tests and diagnostics).</summary>
    public int BusyKeys
    {
        get
        {
            lock (_lock)
            {
                return _busy.Count + (_nullKeyBusy ? 1 : 0);
            }
        }
    }

    /// <summary>
    /// True when <paramref name="record"/> may be delivered now (its key is then busy until <see cref="Release"/>);
    /// false when it was queued behind an earlier message with the same key. Call in offset order.
    /// </summary>
    public bool TryAdmit(KafkaRecord record)
    {
        lock (_lock)
        {
            if (record.Key is null)
            {
                if (!_nullKeyBusy)
                {
                    _nullKeyBusy = true;
                    return true;
                }

                (_nullKeyWaiting ??= new()).Enqueue(record);
                return false;
            }

            ref var waiting = ref CollectionsMarshal.GetValueRefOrAddDefault(_busy, record.Key, out var exists);
            if (!exists)
            {
                return true;
            }

            (waiting ??= new()).Enqueue(record);
            return false;
        }
    }

    /// <summary>
    /// Called when an admitted message is finished (delivered or skipped): returns the next message with its key,
    /// which is admitted now and must be delivered, or null when none waits and the key is free again.
    /// </summary>
    public KafkaRecord? Release(KafkaRecord record)
    {
        lock (_lock)
        {
            if (record.Key is null)
            {
                if (_nullKeyWaiting is { Count: > 0 } nullQueue)
                {
                    return nullQueue.Dequeue();
                }

                _nullKeyBusy = false;
                return null;
            }

            ref var waiting = ref CollectionsMarshal.GetValueRefOrNullRef(_busy, record.Key);
            if (Unsafe.IsNullRef(ref waiting))
            {
                return null;
            }

            if (waiting is { Count: > 0 } queue)
            {
                return queue.Dequeue();
            }

            _busy.Remove(record.Key);
            return null;
        }
    }

    private sealed class KeyComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = default(HashCode);
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
