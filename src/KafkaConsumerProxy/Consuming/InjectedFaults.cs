using System.Collections.Concurrent;
using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Test seams: makes the delivery of chosen messages of a topic throw as a bug would, so that tests can show a
/// partition is restarted after an unexpected exception; and wraps the consumer of a topic's route members, so that
/// tests can watch which threads use it. Nothing is registered outside tests; the check then costs one volatile read
/// per delivery (and one lookup per consumer built).
/// </summary>
internal static class InjectedFaults
{
    private static readonly ConcurrentDictionary<string, Func<KafkaRecord, bool>> ByTopic = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Func<IConsumer<byte[]?, byte[]?>, IConsumer<byte[]?, byte[]?>>> ConsumerWraps = new(StringComparer.Ordinal);
    private static int _registered;

    /// <summary>Until disposed, each route member consuming <paramref name="topic"/> uses the consumer <paramref name="wrap"/> returns.</summary>
    public static IDisposable WrapConsumers(string topic, Func<IConsumer<byte[]?, byte[]?>, IConsumer<byte[]?, byte[]?>> wrap)
    {
        if (!ConsumerWraps.TryAdd(topic, wrap))
        {
            throw new InvalidOperationException($"a consumer wrap is already registered for topic {topic}");
        }

        return new Registration(() => ConsumerWraps.TryRemove(topic, out _));
    }

    /// <summary>The consumer a route member of <paramref name="topic"/> uses: <paramref name="consumer"/> unless a test wraps it.</summary>
    public static IConsumer<byte[]?, byte[]?> Wrap(string topic, IConsumer<byte[]?, byte[]?> consumer) =>
        !ConsumerWraps.IsEmpty && ConsumerWraps.TryGetValue(topic, out var wrap) ? wrap(consumer) : consumer;

    /// <summary>Until disposed, a delivery of a message of <paramref name="topic"/> for which <paramref name="fault"/> is true throws.</summary>
    public static IDisposable Register(string topic, Func<KafkaRecord, bool> fault)
    {
        if (!ByTopic.TryAdd(topic, fault))
        {
            throw new InvalidOperationException($"a fault is already registered for topic {topic}");
        }

        Interlocked.Increment(ref _registered);
        return new Registration(() =>
        {
            if (ByTopic.TryRemove(topic, out _))
            {
                Interlocked.Decrement(ref _registered);
            }
        });
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

    private sealed class Registration(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }
}

/// <summary>The exception <see cref="InjectedFaults"/> throws.</summary>
internal sealed class InjectedFaultException(string message) : Exception(message);
