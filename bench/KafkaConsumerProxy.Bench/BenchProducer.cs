using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// Writes the benchmark's messages: values of exactly <see cref="ValueBytes"/> bytes shaped like a small JSON event,
/// keys <c>k0</c> to <c>k1023</c>, partitions round-robin. Preloading batches hard (linger, large batches);
/// paced producing sends each message at once.
/// </summary>
internal static class BenchProducer
{
    public const int ValueBytes = 100;
    public const int DistinctKeys = 1024;

    /// <summary>
    /// A 100-byte JSON-like value: <c>{"id":17,"type":"order.created","amount":17,"note":"abc…"}</c>. Its quotes,
    /// braces and colons are percent-encoded in a form body, as real JSON payloads are.
    /// </summary>
    public static byte[] Value(long i)
    {
        var head = string.Create(CultureInfo.InvariantCulture, $"{{\"id\":{i},\"type\":\"order.created\",\"amount\":{i % 10_000},\"note\":\"");
        var value = new byte[ValueBytes];
        var written = Encoding.ASCII.GetBytes(head, value);
        const string Tail = "\"}";
        for (var j = written; j < ValueBytes - Tail.Length; j++)
        {
            value[j] = (byte)('a' + ((i + j) % 26));
        }

        Encoding.ASCII.GetBytes(Tail, value.AsSpan(ValueBytes - Tail.Length));
        return value;
    }

    /// <summary>Messages of the large-value scenario: about what the mock cluster keeps of them, lz4-compressed.</summary>
    public const int LargeCount = 1_900;

    /// <summary>Value size of the large-value scenario.</summary>
    public const int LargeValueBytes = 900_000;

    /// <summary>
    /// A 900,000-byte value of letters: a 1,000-byte block, random per message, repeated. lz4 finds the repeats, so
    /// the mock cluster (5 MiB per partition) keeps all of them, while kcp holds each at its full size.
    /// </summary>
    public static byte[] LargeValue(long i)
    {
        const int Block = 1_000;
        // Seeded per message so every run produces the same data; not for security.
#pragma warning disable CA5394
        var random = new Random((int)i);
        var value = new byte[LargeValueBytes];
        for (var j = 0; j < Block; j++)
        {
            value[j] = (byte)('a' + random.Next(26));
        }
#pragma warning restore CA5394

        for (var j = Block; j < LargeValueBytes; j++)
        {
            value[j] = value[j - Block];
        }

        return value;
    }

    public static byte[] Key(long i) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"k{i % DistinctKeys}"));

    /// <summary>Produces <paramref name="count"/> messages as fast as the cluster takes them, and waits for every acknowledgement.</summary>
    public static void Preload(string bootstrapServers, string topic, int partitions, long count, CompressionType compression, TimeSpan timeout, Func<long, byte[]>? value = null)
    {
        value ??= Value;
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.Leader,
            LingerMs = 20,
            BatchSize = 1_000_000,
            BatchNumMessages = 10_000,
            QueueBufferingMaxMessages = 1_000_000,
            QueueBufferingMaxKbytes = 1_048_576,
            CompressionType = compression,
        };
        long failed = 0;
        string? firstError = null;
        using var producer = new ProducerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        Action<DeliveryReport<byte[], byte[]>> onDelivered = report =>
        {
            if (report.Error.IsError && Interlocked.Increment(ref failed) == 1)
            {
                firstError = report.Error.Reason;
            }
        };
        for (long i = 0; i < count; i++)
        {
            var message = new Message<byte[], byte[]> { Key = Key(i), Value = value(i) };
            var partition = new TopicPartition(topic, (int)(i % partitions));
            while (true)
            {
                try
                {
                    producer.Produce(partition, message, onDelivered);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                    ThrowIfPast(deadline, topic);
                }
            }
        }

        var left = TimeSpan.FromSeconds(Math.Max(1, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
        if (producer.Flush(left) > 0)
        {
            throw new TimeoutException($"preloading {topic}: messages still unacknowledged after {timeout.TotalSeconds:F0} s");
        }

        if (failed > 0)
        {
            throw new InvalidOperationException($"preloading {topic}: {failed} message(s) failed, first: {firstError}");
        }
    }

    /// <summary>
    /// Produces <paramref name="count"/> messages at <paramref name="rate"/> per second on a dedicated thread, each
    /// sent at once (linger 0), so the message timestamp is the moment it was produced.
    /// </summary>
    public static Task ProducePacedAsync(string bootstrapServers, string topic, int partitions, int rate, long count, long firstIndex, CancellationToken cancel) =>
        Task.Factory.StartNew(() =>
        {
            var config = new ProducerConfig
            {
                BootstrapServers = bootstrapServers,
                Acks = Acks.Leader,
                LingerMs = 0,
            };
            using var producer = new ProducerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
            var started = Stopwatch.GetTimestamp();
            long sent = 0;
            while (sent < count && !cancel.IsCancellationRequested)
            {
                var due = Math.Min(count, (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * rate) + 1);
                for (; sent < due; sent++)
                {
                    var i = firstIndex + sent;
                    producer.Produce(new TopicPartition(topic, (int)(i % partitions)), new Message<byte[], byte[]> { Key = Key(i), Value = Value(i) });
                }

                Thread.Sleep(1);
            }

            producer.Flush(TimeSpan.FromSeconds(10));
        }, cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Messages the cluster holds for <paramref name="topic"/> (high minus low watermark, summed over partitions).</summary>
    public static long Retained(string bootstrapServers, string topic, int partitions)
    {
        var config = new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "bench-watermarks" };
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).Build();
        long total = 0;
        for (var p = 0; p < partitions; p++)
        {
            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            total += marks.High.Value - marks.Low.Value;
        }

        return total;
    }

    private static void ThrowIfPast(long deadline, string topic)
    {
        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"preloading {topic} did not finish in time");
        }
    }
}
