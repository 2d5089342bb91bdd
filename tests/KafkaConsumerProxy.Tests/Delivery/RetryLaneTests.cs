using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// A retry lane's copy and what is read back from it (issue 20, item 5): the message as first consumed, its own headers
/// in order, the lane's headers left out; a record kcp did not write is delivered as it is, past the last round.
/// </summary>
public sealed class RetryLaneTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ProxyMetrics _metrics;
    private readonly RetryLane _lane;

    public RetryLaneTests()
    {
        _metrics = new ProxyMetrics(_time);
        var route = new RouteDefinition { Name = "r", SourceFile = "r.yaml", Topic = "orders", Group = "g", RetryLane = new RetryLaneSettings { Topic = "orders.retry", DelaysMs = [100, 2000] } };
        _lane = new RetryLane(route, new ClusterDefinition("default", "127.0.0.1:1", new Dictionary<string, string>()), _metrics, NullLogger.Instance, _time);
    }

    public void Dispose()
    {
        _lane.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public void Read_CopyWrittenForRound2_IsTheMessageAsFirstConsumed_Issue20()
    {
        var original = new KafkaRecord("orders", 3, 42, 1_700_000_000_000, "k"u8.ToArray(), "v"u8.ToArray(), [new("trace", "a"u8.ToArray()), new("trace", null)]);
        var due = _time.GetUtcNow().AddSeconds(2);
        var headers = RetryLane.HeadersOf(original, round: 2, attempts: 3, due);
        var consumed = new KafkaRecord("orders.retry", 0, 7, 1_700_000_000_500, original.Key, original.Value, KafkaHeader.From(headers));

        var copy = _lane.Read(consumed);

        Assert.Equal((2, 3, due), (copy.Round, copy.Attempts, copy.Due));
        Assert.Equal(("orders", 3, 42L, 1_700_000_000_000L), (copy.Record.Topic, copy.Record.Partition, copy.Record.Offset, copy.Record.TimestampMs));
        Assert.Equal(["trace", "trace"], copy.Record.Headers.Select(h => h.Name));
        Assert.Equal("a"u8.ToArray(), copy.Record.Headers[0].Value);
        Assert.Null(copy.Record.Headers[1].Value);
        Assert.Equal((2, TimeSpan.FromMilliseconds(2000)), (_lane.Rounds, _lane.DelayBefore(2)));
        Assert.Equal(RetryLane.CallerOf(original), RetryLane.CallerOf(copy.Record));
        Assert.True(RetryLane.CallerOf(original) < 0);
    }

    [Fact]
    public void Read_RecordWithoutLaneHeaders_DeliveredAsItIsPastTheLastRound_Issue20()
    {
        var foreign = new KafkaRecord("orders.retry", 0, 7, 1, null, "x"u8.ToArray(), [new("kcp.retry.round", Encoding.UTF8.GetBytes("two"))]);

        var copy = _lane.Read(foreign);

        Assert.Same(foreign, copy.Record);
        Assert.True(copy.Round > _lane.Rounds);
        Assert.True(copy.Due <= _time.GetUtcNow());
    }
}
