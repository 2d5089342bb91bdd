using System.Globalization;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// A route's non-blocking retry lane (<c>retry_topic</c>, docs/DELIVERY.md): writes the copy of a failed message to the
/// retry topic and reads the copies the lane's members consume back. A copy keeps the message's key, value and headers
/// and adds the <c>kcp.retry.*</c> headers: where the message came from (topic, partition, offset, timestamp), the round
/// it is in, the attempts made so far and when it is due. The copy is written with the dead-letter topic's producer
/// settings (idempotent, <c>acks=all</c>, <see cref="DeadLetterWriter.BuildProducer"/>), and only a write the broker
/// acknowledged finishes the original; a write that fails is reported as such and the message stays where it is.
/// One instance per route, shared by its members.
/// </summary>
internal sealed class RetryLane : IDisposable
{
    /// <summary>The prefix of the lane's own headers, which the endpoint never sees.</summary>
    public const string HeaderPrefix = "kcp.retry.";

    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(30);

    private readonly string _route;
    private readonly IReadOnlyList<int> _delaysMs;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ProxyMetrics _metrics;
    private long _failures;
    private long _lastFailureLog;
    private int _foreignLogged;

    public RetryLane(RouteDefinition route, ClusterDefinition cluster, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _metrics = metrics;
        _route = route.Name;
        Topic = route.RetryLane.Topic ?? throw new ArgumentException("the route has no retry_topic", nameof(route));
        _delaysMs = route.RetryLane.DelaysMs;
        _logger = logger;
        _time = time;
        _producer = DeadLetterWriter.BuildProducer(cluster, $"kcp-{route.Name}-retry");
    }

    /// <summary>The retry topic.</summary>
    public string Topic { get; }

    /// <summary>The lane's rounds: one per entry of <c>retry_topic_delays_ms</c>.</summary>
    public int Rounds => _delaysMs.Count;

    /// <summary>
    /// The circuit breaker's name of a message (<see cref="CircuitBreaker.Exit"/>'s caller) in a route with a lane: the
    /// same for the message and each of its copies (a negative number, apart from the counter that names the messages
    /// of other routes), so that its failures in one round after another are one message's, not a streak shared by many.
    /// </summary>
    public static long CallerOf(KafkaRecord record) => -1L - (uint)HashCode.Combine(record.Topic, record.Partition, record.Offset);

    /// <summary>The wait before round <paramref name="round"/> (from 1).</summary>
    public TimeSpan DelayBefore(int round) => TimeSpan.FromMilliseconds(_delaysMs[round - 1]);

    /// <summary>
    /// Writes the copy of a message that failed at <paramref name="place"/> for the lane's next round, due after the
    /// round's delay (or the endpoint's <c>Retry-After</c>, <paramref name="asked"/>, when longer); true once acknowledged
    /// (counted and logged), false when it was not (the message is then retried in place).
    /// </summary>
    public async Task<bool> MoveAsync(KafkaRecord record, LanePlace place, int attempt, TimeSpan? asked, CancellationToken abandon)
    {
        var round = place.Round + 1;
        var wait = DelayBefore(round);
        wait = asked > wait ? asked.Value : wait;
        var attempts = place.PriorAttempts + attempt;
        if (!await WriteAsync(record, round, attempts, _time.GetUtcNow() + wait, abandon).ConfigureAwait(false))
        {
            return false;
        }

        _metrics.OnRetryLane(_route, round);
        Log.RetryLaneCopied(_logger, _route, record.Topic, record.Partition, record.Offset, Topic, attempts, round, Rounds, (long)wait.TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Writes the copy of <paramref name="record"/> (as the endpoint sees it: its original topic, partition and offset)
    /// for <paramref name="round"/>, due at <paramref name="due"/>; true once the broker acknowledged it. False when the
    /// write failed (logged: the first failure, then every 30 s) or <paramref name="abandon"/> fired: the message is then
    /// not finished.
    /// </summary>
    public async Task<bool> WriteAsync(KafkaRecord record, int round, int attempts, DateTimeOffset due, CancellationToken abandon)
    {
        var message = new Message<byte[]?, byte[]?>
        {
            Key = record.Key,
            Value = record.Value,
            Headers = HeadersOf(record, round, attempts, due),
            Timestamp = new Timestamp(record.TimestampMs, TimestampType.CreateTime),
        };
        try
        {
            await _producer.ProduceAsync(Topic, message, abandon).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            return false;
        }
        catch (KafkaException ex)
        {
            var failures = Interlocked.Increment(ref _failures);
            var last = Interlocked.Read(ref _lastFailureLog);
            if ((last == 0 || _time.GetElapsedTime(last) >= FailureLogInterval) && Interlocked.CompareExchange(ref _lastFailureLog, _time.GetTimestamp(), last) == last)
            {
                Log.RetryLaneWriteFailed(_logger, _route, record.Topic, record.Partition, record.Offset, Topic, failures, ex.Error.Reason);
            }

            return false;
        }
    }

    /// <summary>
    /// Holds <paramref name="copy"/> until it is due without keeping the caller's slot of the in-flight limit
    /// (<paramref name="inFlight"/>), so that the copies waiting do not hold up the others; true once due, holding the
    /// slot again; false, holding no slot, when <paramref name="abandon"/> fired first.
    /// </summary>
    public async Task<bool> HoldAsync(LaneCopy copy, SemaphoreSlim? inFlight, CancellationToken abandon)
    {
        var wait = copy.Due - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return true;
        }

        inFlight?.Release();
        try
        {
            // Never longer than the longest round, whatever a header says.
            var bound = TimeSpan.FromMilliseconds(RetryLaneSettings.MaxDelayMs);
            await RetryPolicy.WaitAtLeastAsync(wait < bound ? wait : bound, _time, abandon).ConfigureAwait(false);
            if (inFlight is not null)
            {
                await inFlight.WaitAsync(abandon).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// A record consumed from the retry topic as the lane delivers it: the message as it was first consumed (topic,
    /// partition, offset and timestamp from the <c>kcp.retry.*</c> headers, which are left out), its round and when it
    /// is due. A record without those headers (not written by kcp) is delivered as it is, as past the last round:
    /// the route's own rules apply to it (logged once per route).
    /// </summary>
    public LaneCopy Read(KafkaRecord consumed)
    {
        string? Text(string name) => consumed.Headers.LastOrDefault(h => h.Name == HeaderPrefix + name).Value is { } v ? Encoding.UTF8.GetString(v) : null;
        static long? Number(string? text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
        var (topic, partition, offset, timestamp, round, attempts, due) = (Text("topic"), Number(Text("partition")), Number(Text("offset")), Number(Text("timestamp")), Number(Text("round")), Number(Text("attempts")), Number(Text("due")));
        if (topic is null || partition is not (>= 0 and <= int.MaxValue) || offset is null || timestamp is null || round is not (>= 1 and <= int.MaxValue) || due is null)
        {
            if (Interlocked.Exchange(ref _foreignLogged, 1) == 0)
            {
                Log.RetryLaneForeignRecord(_logger, _route, consumed.Topic, consumed.Partition, consumed.Offset);
            }

            return new LaneCopy(consumed, int.MaxValue, 0, _time.GetUtcNow());
        }

        var original = consumed with
        {
            Topic = topic,
            Partition = (int)partition.Value,
            Offset = offset.Value,
            TimestampMs = timestamp.Value,
            Headers = [.. consumed.Headers.Where(h => !h.Name.StartsWith(HeaderPrefix, StringComparison.Ordinal))],
        };
        return new LaneCopy(original, (int)round.Value, (int)Math.Clamp(attempts ?? 0, 0, int.MaxValue), DateTimeOffset.FromUnixTimeMilliseconds(due.Value));
    }

    /// <summary>The record's own headers, in order, then the <c>kcp.retry.*</c> headers.</summary>
    internal static Headers HeadersOf(KafkaRecord record, int round, int attempts, DateTimeOffset due)
    {
        var headers = new Headers();
        foreach (var header in record.Headers)
        {
            headers.Add(header.Name, header.Value);
        }

        void Add(string name, long value) => headers.Add(HeaderPrefix + name, Encoding.UTF8.GetBytes(value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(HeaderPrefix + "topic", Encoding.UTF8.GetBytes(record.Topic));
        Add("partition", record.Partition);
        Add("offset", record.Offset);
        Add("timestamp", record.TimestampMs);
        Add("round", round);
        Add("attempts", attempts);
        Add("due", due.ToUnixTimeMilliseconds());
        return headers;
    }

    public void Dispose()
    {
        // Writes still queued were not acknowledged, so their messages were not finished: nothing waits for them.
        _producer.Dispose();
    }
}

/// <summary>A message's place in the route's retry lane: its round (0: not yet in the lane) and the attempts of earlier rounds.</summary>
internal readonly record struct LanePlace(int Round, int PriorAttempts);

/// <summary>
/// A message read back from the retry lane: <paramref name="Record"/> as first consumed, in <paramref name="Round"/>
/// (from 1; <see cref="int.MaxValue"/> for a record not written by kcp), after <paramref name="Attempts"/> attempts, due at <paramref name="Due"/>.
/// </summary>
internal sealed record LaneCopy(KafkaRecord Record, int Round, int Attempts, DateTimeOffset Due);
