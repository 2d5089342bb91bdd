using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// Endpoint answers handled as documented, through the real delivery loop (config loader, consumer, workers) and a
/// real endpoint: a status check that does not wait for the body, a batch retry list that names strangers.
/// </summary>
public sealed class EndpointAnswersEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public EndpointAnswersEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task StatusCheck_EndpointAnswers200AndNeverEndsTheBody_EachMessageOnceDeliveredPromptlyAndCommitted_Issue7()
    {
        const int Count = 20;
        const int ExecTimeoutMs = 5_000;
        var topic = _cluster.CreateTopic("held-body", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Count));
        var offsets = new ConcurrentQueue<(long Offset, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        var held = new ScriptedEndpointCounter();
        var hold = ScriptedEndpoint.HoldBodyOpen(held, "{\"errno\":0,"u8.ToArray());
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            var form = await context.Request.ReadFormAsync();
            offsets.Enqueue((long.Parse(form["o"]!, System.Globalization.CultureInfo.InvariantCulture), clock.Elapsed));
            await hold(context);
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("held", topic, group, endpoint.Port, new Dictionary<string, object>
        {
            ["response_check"] = "status", ["exec_timeout_ms"] = ExecTimeoutMs,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Eventually.ValueAsync(() => offsets.Count, n => n >= Count, $"{Count} requests", Patience);
            await proxy.StopAsync();
            Assert.DoesNotContain(proxy.Logs, l => l.Contains("failed (attempt", StringComparison.Ordinal));
        }

        var seen = offsets.ToList();
        Assert.Equal(Enumerable.Range(0, Count).Select(o => (long)o), seen.Select(s => s.Offset));
        // Each message went out before the previous one's exec_timeout_ms could have run out: decided on its status line.
        var gap = seen.Zip(seen.Skip(1), (a, b) => b.At - a.At).Max();
        Assert.True(gap < TimeSpan.FromMilliseconds(ExecTimeoutMs), $"{gap} between two of the {Count} messages; each one should be decided on its status line");
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    [Theory]
    [InlineData("""{"errno":0,"retry":[3,1000]}""", "names offset(s) not in the batch (1000; the batch holds 0-9)")]
    [InlineData("""{"errno":0,"retry":[3,"4"]}""", "\"retry\" must be an array of offsets (integers)")]
    public async Task BatchRetryList_InvalidOrNamingStrangers_FailedAttemptRejectedBodyAndBatchRetriedWhole_Issue7(string firstAnswer, string reason)
    {
        const int Count = 10;
        var topic = _cluster.CreateTopic("batch-strangers", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, Count));
        var answered = 0;
        await using var receiver = await RecordingReceiver.StartAsync(_ =>
            Interlocked.Exchange(ref answered, 1) == 0 ? Fault.None with { Body = firstAnswer } : Fault.None);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("strangers", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = "json", ["batch_size"] = Count, ["batch_linger_ms"] = 500,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await receiver.WaitForCountAsync(2, Patience);
            await proxy.WaitForLogAsync(reason, Patience);
            await proxy.StopAsync();
            var failed = Assert.Single(proxy.Logs, l => l.Contains("failed (attempt 1)", StringComparison.Ordinal));
            Assert.Contains($"{topic}/0@0 failed (attempt 1): rejected_body from ", failed, StringComparison.Ordinal);
        }

        var batches = receiver.Requests.Select(Offsets).ToList();
        var all = Enumerable.Range(0, Count).Select(o => (long)o).ToList();
        Assert.Equal(all, batches[0]);
        Assert.Equal(all, batches[1]);
        Assert.Equal(2, batches.Count);
        Assert.Equal(Count, Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0]);
    }

    private static List<long> Offsets(ReceivedRequest request) =>
        [.. JsonDocument.Parse(request.Body).RootElement.EnumerateArray().Select(m => m.GetProperty("offset").GetInt64())];
}
