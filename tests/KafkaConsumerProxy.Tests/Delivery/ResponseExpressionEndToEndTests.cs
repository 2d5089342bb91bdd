using System.Collections.Concurrent;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// <c>response_check: expression</c> end to end: the embedded cluster, a scripted endpoint on Kestrel, the proxy in
/// process. Answers the expression accepts are committed; refused ones are retried, then skipped, as the route says.
/// </summary>
public sealed class ResponseExpressionEndToEndTests : IClassFixture<TestCluster>
{
    private const string Expression = "status == 200 && body.result == \"ok\"";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly Fault Ok = Fault.None with { Body = "{\"result\":\"ok\"}" };
    private readonly TestCluster _cluster;

    public ResponseExpressionEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task AcceptedCommitted_RefusedRetriedThenSkipped_AsTheRouteSays_Issue20()
    {
        var topic = _cluster.CreateTopic("cel", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 5));
        var scripts = new Dictionary<long, Fault[]>
        {
            [0] = [Ok],
            // Refused every time: retried once (retry_nums: 1), then skipped (can_skip: true).
            [1] = [Refused("{\"result\":\"no\"}")],
            // Not JSON (body is null), then accepted.
            [2] = [Refused("OK", "text/plain"), Ok],
            // A 503 (a bad status for the expression too), then accepted.
            [3] = [Fault.Status(503), Ok],
            // The expression decides, not errno: accepted on the first attempt.
            [4] = [Ok with { Body = "{\"result\":\"ok\",\"errno\":1}" }],
        };
        var attempts = new ConcurrentDictionary<long, int>();
        await using var receiver = await RecordingReceiver.StartAsync(r =>
        {
            var n = attempts.AddOrUpdate(r.Offset ?? -1, 1, (_, a) => a + 1);
            var script = scripts[r.Offset ?? -1];
            return script[Math.Min(n, script.Length) - 1];
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("cel", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["response_check"] = "expression",
            ["response_expression"] = Expression,
            ["can_skip"] = true,
            ["retry_nums"] = 1,
            ["retry_interval_ms"] = 50,
            ["breaker_failures"] = 0,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 5, "the commit of all five", Patience);
            await proxy.StopAsync();
        }

        Assert.Equal([1, 2, 2, 2, 1], Enumerable.Range(0, 5).Select(o => attempts[o]));
        Assert.Equal([0L, 2, 3, 4], receiver.Requests.Accepted().Select(r => r.Offset!.Value).Order());
        using var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile)));
        Assert.Equal(1, record.RootElement.GetProperty("offset").GetInt64());
        Assert.Contains("response_expression is false: {\"result\":\"no\"}", record.RootElement.GetProperty("last_failure").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_JudgedWhole_ARefusedAnswerRetriesEveryMessage_TheAcceptedOneCommitsThemAll_Issue20()
    {
        var topic = _cluster.CreateTopic("cel-batch", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 3));
        var answers = 0;
        await using var receiver = await RecordingReceiver.StartAsync(_ => Interlocked.Increment(ref answers) == 1 ? Refused("{\"result\":\"later\"}") : Ok);
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("cel", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["response_check"] = "expression",
            ["response_expression"] = Expression,
            ["format"] = "json",
            ["batch_size"] = 3,
            ["batch_linger_ms"] = 2000,
            ["retry_interval_ms"] = 50,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 3, "the commit of the batch", Patience);
            await proxy.StopAsync();
        }

        var requests = receiver.Requests;
        Assert.Equal(["0-2", "0-2"], requests.Select(r => r.Header("X-Kafka-Offsets")));
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0);
    }

    // A 200 the expression refuses; not counted as accepted by the harness.
    private static Fault Refused(string body, string contentType = "application/json") =>
        new() { Kind = FaultKind.ErrnoBody, Body = body, ContentType = contentType };
}
