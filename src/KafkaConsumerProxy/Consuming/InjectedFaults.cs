using System.Collections.Concurrent;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Test seam: makes the delivery of chosen messages of a topic throw as a bug would, so that tests can show a
/// partition is restarted after an unexpected exception. Nothing is registered outside tests; the check then costs
/// one volatile read per delivery.
/// </summary>
internal static class InjectedFaults
{
    private static readonly ConcurrentDictionary<string, Func<KafkaRecord, bool>> ByTopic = new(StringComparer.Ordinal);
    private static int _registered;

    /// <summary>Until disposed, a delivery of a message of <paramref name="topic"/> for which <paramref name="fault"/> is true throws.</summary>
    public static IDisposable Register(string topic, Func<KafkaRecord, bool> fault)
    {
        if (!ByTopic.TryAdd(topic, fault))
        {
            throw new InvalidOperationException($"a fault is already registered for topic {topic}");
        }

        Interlocked.Increment(ref _registered);
        return new Registration(topic);
    }

    /// <summary>Throws <see cref="InjectedFaultException"/> for a registered message, giving back the caller's slot first.</summary>
    public static void ThrowIfInjected(KafkaRecord record, SemaphoreSlim? slot)
    {
        if (Volatile.Read(ref _registered) == 0 || !ByTopic.TryGetValue(record.Topic, out var fault) || !fault(record))
        {
            return;
        }

        slot?.Release();
        throw new InjectedFaultException($"injected fault at {record.Topic}/{record.Partition}@{record.Offset}");
    }

    private sealed class Registration(string topic) : IDisposable
    {
        public void Dispose()
        {
            if (ByTopic.TryRemove(topic, out _))
            {
                Interlocked.Decrement(ref _registered);
            }
        }
    }
}

/// <summary>The exception <see cref="InjectedFaults"/> throws.</summary>
internal sealed class InjectedFaultException(string message) : Exception(message);
