using System.Globalization;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>What is known about a message when it is skipped, for its <c>kcp.dlq.*</c> headers.</summary>
internal sealed record SkipDetails(SkipKind Kind, int Attempts, DateTimeOffset FirstFailureAt, string LastFailure, int? LastStatus, byte[]? LastBody, DateTimeOffset SkippedAt)
{
    /// <summary>For <see cref="SkipKind.Endpoint"/>, what the endpoint asked for (skip or dead-letter); None otherwise.</summary>
    public EndpointAction Action { get; init; }
}

/// <summary>
/// Writes a route's skipped messages to its <c>dead_letter_topic</c> (on <c>dead_letter_cluster</c>, default the route's
/// cluster) with an idempotent producer and <c>acks=all</c>: the same key, value and record headers, plus the
/// <c>kcp.dlq.*</c> headers that say where the message came from and why it was skipped. <see cref="WriteAsync"/>
/// returns only once the write is acknowledged; until then the message is not skipped, its offset is not done, and the
/// attempts go on (the first failure logged at once, later ones every 30 s) until it is written or the partition is
/// given up (revoke, stop) — then it is delivered again by whoever takes the partition, and nothing is lost.
/// One instance per route, shared by its members.
/// </summary>
internal sealed class DeadLetterWriter : IDisposable
{
    /// <summary>The first 1 KiB of the last answer's body goes into <c>kcp.dlq.last_body</c>.</summary>
    public const int MaxBodyBytes = 1024;

    /// <summary>How long one write may take inside librdkafka (its own retries included) before it counts as failed (5 s): then it is logged and written again.</summary>
    public const int MessageTimeoutMs = 5_000;

    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxRetryWait = TimeSpan.FromSeconds(5);

    // Connection settings of the cluster's consumer_conf that a producer of the same cluster needs too.
    private static readonly string[] ConnectionPrefixes = ["security.", "sasl.", "ssl.", "socket.", "broker.address.", "reconnect.", "client.dns."];

    private readonly RouteDefinition _route;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RouteRedactor _secrets;

    /// <param name="secrets">The route's redactor (<see cref="HttpDeliverer.Secrets"/>, which knows its OAuth2 tokens); default one of the route's configured secrets.</param>
    public DeadLetterWriter(RouteDefinition route, ClusterDefinition cluster, ILogger logger, TimeProvider time, RouteRedactor? secrets = null)
    {
        _route = route;
        _secrets = secrets ?? new RouteRedactor(route.Endpoint);
        _logger = logger;
        _time = time;
        Topic = route.DeadLetter.Topic ?? throw new ArgumentException("the route has no dead_letter_topic", nameof(route));
        _producer = BuildProducer(cluster, $"kcp-{route.Name}-dlq");
    }

    /// <summary>
    /// A producer of <paramref name="cluster"/> that writes only what is acknowledged by every in-sync replica
    /// (idempotent, <c>acks=all</c>, each write given up after <see cref="MessageTimeoutMs"/>), with the connection
    /// settings of the cluster's <c>consumer_conf</c>; the retry lane's (<see cref="RetryLane"/>) too.
    /// </summary>
    internal static IProducer<byte[]?, byte[]?> BuildProducer(ClusterDefinition cluster, string clientId)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            ClientId = clientId,
            EnableIdempotence = true,
            Acks = Acks.All,
            MessageTimeoutMs = MessageTimeoutMs,
            LingerMs = 5,
        };
        foreach (var (key, value) in cluster.ConsumerConf)
        {
            if (ConnectionPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
            {
                config.Set(key, value);
            }
        }

        return new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, _) => { })
            .Build();
    }

    /// <summary>The dead-letter topic.</summary>
    public string Topic { get; }

    /// <summary>
    /// Writes <paramref name="record"/> and returns its place in the dead-letter topic once acknowledged; null when
    /// <paramref name="abandon"/> fired first (the message must then not count as done).
    /// </summary>
    public async Task<DeadLetterPosition?> WriteAsync(KafkaRecord record, SkipDetails details, CancellationToken abandon)
    {
        var message = new Message<byte[]?, byte[]?> { Key = record.Key, Value = record.Value, Headers = HeadersOf(record, details) };
        var failures = 0;
        var lastLog = 0L;
        var wait = TimeSpan.FromMilliseconds(100);
        while (!abandon.IsCancellationRequested)
        {
            try
            {
                var result = await _producer.ProduceAsync(Topic, message, abandon).ConfigureAwait(false);
                if (failures > 0)
                {
                    Log.DeadLetterWritten(_logger, _route.Name, record.Topic, record.Partition, record.Offset, Topic, failures);
                }

                return new DeadLetterPosition(Topic, result.Partition.Value, result.Offset.Value);
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested)
            {
                return null;
            }
            catch (KafkaException ex)
            {
                failures++;
                if (failures == 1 || _time.GetElapsedTime(lastLog) >= FailureLogInterval)
                {
                    lastLog = _time.GetTimestamp();
                    Log.DeadLetterWriteFailed(_logger, _route.Name, record.Topic, record.Partition, record.Offset, Topic, failures, ex.Error.Reason);
                }
            }

            try
            {
                await Task.Delay(wait, _time, abandon).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxRetryWait.Ticks));
        }

        return null;
    }

    /// <summary>The record's own headers, in order, then the <c>kcp.dlq.*</c> headers.</summary>
    internal Headers HeadersOf(KafkaRecord record, SkipDetails details)
    {
        var headers = new Headers();
        foreach (var header in record.Headers)
        {
            headers.Add(header.Name, header.Value);
        }

        void Add(string name, string value) => headers.Add("kcp.dlq." + name, Encoding.UTF8.GetBytes(value));
        static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        Add("topic", record.Topic);
        Add("partition", record.Partition.ToString(CultureInfo.InvariantCulture));
        Add("offset", record.Offset.ToString(CultureInfo.InvariantCulture));
        Add("timestamp", record.TimestampMs.ToString(CultureInfo.InvariantCulture));
        Add("route", _route.Name);
        Add("group", _route.Group);
        Add("attempts", details.Attempts.ToString(CultureInfo.InvariantCulture));
        Add("first_failure_at", Time(details.FirstFailureAt));
        Add("last_failure", _secrets.Hide(details.LastFailure));
        Add("last_status", details.LastStatus?.ToString(CultureInfo.InvariantCulture) ?? "");
        headers.Add("kcp.dlq.last_body", details.LastBody is { } body ? _secrets.HideBytes(body.AsSpan(0, Math.Min(body.Length, MaxBodyBytes)), cut: body.Length > MaxBodyBytes) : []);
        Add("skipped_at", Time(details.SkippedAt));
        Add("kind", details.Kind.ToString().ToLowerInvariant());
        return headers;
    }

    public void Dispose()
    {
        // Writes still queued were not acknowledged, so their messages were not skipped: nothing waits for them.
        _producer.Dispose();
    }
}
