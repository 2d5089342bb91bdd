using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Fleet;

/// <summary>
/// Two real kcp processes of one route and group, each with its own state_dir and admin port, sharing the control
/// topic of the <c>fleet</c> section on one embedded cluster: any instance answers and acts for the whole fleet.
/// </summary>
public sealed class FleetProcessTests : IClassFixture<TestCluster>
{
    private const int Messages = 5;
    private static readonly TimeSpan Patience = FleetNode.Patience;
    private readonly TestCluster _cluster;

    public FleetProcessTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task TwoInstances_OneStuckHeadEach_BothVisibleFromEither_BothSkippedThroughOne_RestDeliveredInOrder_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 2);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        _cluster.Mock.CreateTopic(control, 1);
        // Records that are not kcp's: each kind is logged once and ignored.
        await _cluster.ProduceAsync(control, [
            (0, Encoding.UTF8.GetBytes("someone/else"), Encoding.UTF8.GetBytes("{}")),
            (0, Encoding.UTF8.GetBytes("someone/else"), Encoding.UTF8.GetBytes("{}")),
            (0, Encoding.UTF8.GetBytes("kcp/intent/x/y/pause"), Encoding.UTF8.GetBytes("not json")),
            (0, Encoding.UTF8.GetBytes("kcp/intent/x/y/pause"), Encoding.UTF8.GetBytes("{\"v\": 1, \"type\": \"route_intent\"}")),
        ]);
        // Offset 1 of each partition fails until it is skipped; the route never skips on its own (can_skip: false).
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.When(r => r.Offset == 1, Fault.Status(500) with { Body = "stuck" }));
        var keys = new Dictionary<string, object> { ["retry_interval_ms"] = 100 };
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port, keys);
        await using var b = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port, keys);
        await OwnedOneEachAsync(a, b);

        await _cluster.ProduceAsync(topic, Produce(0, Messages));
        // Either instance shows both stuck heads, each with its owner.
        foreach (var node in new[] { a, b })
        {
            var view = await node.WaitForPartitionsAsync("rf", p => FleetNode.FailingHeads(p) is { Count: 2 } heads && heads.Values.All(o => o == 1), "both stuck heads at offset 1");
            var seen = FleetNode.Owners([.. view.GetProperty("partitions").EnumerateArray()]).Values.ToHashSet();
            Assert.True(seen.SetEquals([a.Instance, b.Instance]), $"{node.Instance} shows owners {string.Join(", ", seen)}");
        }

        // kcp status ROUTE (through the control socket) prints the owner of each partition.
        var (code, output) = await Routes.RoutesProcessTests.CliAsync("status", "rf", "--config", a.Config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("OWNER", output, StringComparison.Ordinal);
        Assert.Contains(a.Instance + " (this kcp)", output, StringComparison.Ordinal);
        Assert.Contains(b.Instance, output.Replace(a.Instance, "", StringComparison.Ordinal), StringComparison.Ordinal);

        var owners = FleetNode.Owners([.. (await a.Admin.GetJsonAsync("/api/v1/routes/rf")).GetProperty("partitions").EnumerateArray()]);
        var remote = owners.Single(o => o.Value == b.Instance).Key;

        // The 409 rule holds for the other instance's partition too: only its failing head can be skipped.
        var (wrongStatus, wrongBody) = await a.Admin.PostAsync($"/api/v1/routes/rf/partitions/{remote}/skip?offset=3");
        Assert.True(wrongStatus == 409, wrongBody);
        Assert.Contains("being retried now: offset 1", wrongBody, StringComparison.Ordinal);

        // Both skipped through instance a.
        foreach (var partition in new[] { 0, 1 })
        {
            var (status, body) = await a.Admin.PostAsync($"/api/v1/routes/rf/partitions/{partition}/skip?offset=1");
            Assert.True(status == 200, $"partition {partition}: {status} {body}");
            Assert.Contains("\"skipped\"", body, StringComparison.Ordinal);
        }

        await receiver.WaitForAsync(r => new[] { 0, 1 }.All(p => r.Accepted().Count(x => x.Partition == p) >= Messages - 1), Patience);
        foreach (var partition in new[] { 0, 1 })
        {
            var offsets = receiver.Requests.Accepted().Where(r => r.Partition == partition).Select(r => r.Offset!.Value).ToList();
            Assert.Equal([0L, 2, 3, 4], offsets);
        }

        Assert.Single(a.Kcp.Output, l => l.Contains("kcp[2203]", StringComparison.Ordinal) && l.Contains("is not kcp's", StringComparison.Ordinal));
        Assert.Single(a.Kcp.Output, l => l.Contains("kcp[2203]", StringComparison.Ordinal) && l.Contains("not kcp's JSON", StringComparison.Ordinal));

        // Both appear in the fleet's audit trail, from either instance.
        var audit = await b.Admin.WaitForJsonAsync("/api/v1/audit", r => r.EnumerateArray().Count(e => e.GetProperty("path").GetString()!.EndsWith("skip?offset=1", StringComparison.Ordinal)) == 2,
            "both skips in the audit trail", Patience);
        Assert.All(audit.EnumerateArray().Where(e => e.GetProperty("status").GetInt32() == 200), e => Assert.Equal(a.Instance, e.GetProperty("instance").GetString()));
    }

    [Fact]
    public async Task PauseThroughOne_HoldsBoth_OtherKilled_ItsPartitionMovesAndStaysPaused_ResumeThroughSurvivor_DeliversAllOnce_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 2);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        // The mock cluster answers no CreateTopics (it has no controller); kcp would create it at its first write, uncompacted.
        _cluster.Mock.CreateTopic(control, 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await using var b = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await OwnedOneEachAsync(a, b);
        await _cluster.ProduceAsync(topic, Produce(0, 2));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 4, Patience);

        // Paused through b: a stops too.
        var (status, body) = await b.Admin.PostAsync("/api/v1/routes/rf/pause");
        Assert.True(status == 200, body);
        foreach (var node in new[] { a, b })
            await node.Admin.WaitForJsonAsync("/api/v1/routes/rf", r => r.GetProperty("state").GetString() == "paused" && r.GetProperty("operator_paused").GetBoolean(), node.Instance + " paused", Patience);
        await _cluster.ProduceAsync(topic, Produce(2, 2 + Messages));

        // b is lost; a takes its partition over, paused.
        b.Kcp.SendSignal(9);
        await a.WaitForPartitionsAsync("rf", p => p.Count == 2 && FleetNode.Owners(p).Values.All(o => o == a.Instance), "a owns both partitions");
        await a.Admin.WaitForJsonAsync("/api/v1/routes/rf", r => r.GetProperty("instances").EnumerateArray().Any(i => i.GetProperty("instance").GetString() == b.Instance && i.GetProperty("state").GetString() == "gone"),
            "b shown as gone", Patience);
        Assert.Equal(4, receiver.Requests.Accepted().Count());

        (status, body) = await a.Admin.PostAsync("/api/v1/routes/rf/resume");
        Assert.True(status == 200, body);
        await receiver.WaitForAsync(r => r.Accepted().Select(x => (x.Partition, x.Offset)).Distinct().Count() == 2 * (2 + Messages), Patience);
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = 2 + Messages, [1] = 2 + Messages });
    }

    [Fact]
    public async Task PausedFleet_NewInstanceWithEmptyStateDir_StartsPaused_ResumeDelivers_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 1);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        _cluster.Mock.CreateTopic(control, 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using (var first = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port))
        {
            var (status, body) = await first.Admin.PostAsync("/api/v1/routes/rf/pause");
            Assert.True(status == 200, body);
        }

        // The whole fleet was stopped; an instance on a new machine (nothing in its state_dir) starts paused.
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Messages).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await using var next = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await next.Admin.WaitForJsonAsync("/api/v1/routes/rf", r => r.GetProperty("state").GetString() == "paused", "paused from the start", Patience);
        await next.Kcp.WaitForOutputAsync(l => l.Contains("kcp[2204]", StringComparison.Ordinal) && l.EndsWith(": 1", StringComparison.Ordinal), "[2204] logged, ending ': 1'", Patience);
        Assert.Empty(receiver.Requests);

        var (resumed, answer) = await next.Admin.PostAsync("/api/v1/routes/rf/resume");
        Assert.True(resumed == 200, answer);
        await receiver.WaitForAsync(r => r.Accepted().Count() >= Messages, Patience);
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = Messages });
    }

    [Fact]
    public async Task ControlTopicRefused_RoutesDeliver_ActionsAnswer503NamingTheCause_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 1);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        _cluster.Mock.SetTopicError(control, ErrorCode.TopicAuthorizationFailed);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);

        await _cluster.ProduceAsync(topic, Enumerable.Range(0, Messages).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= Messages, Patience);

        var (status, body) = await a.Admin.PostAsync("/api/v1/routes/rf/pause");
        Assert.True(status == 503, $"{status} {body}");
        Assert.Contains($"control topic {control}", body, StringComparison.Ordinal);
        Assert.Contains("uthoriz", body, StringComparison.Ordinal);
        var listing = await a.Admin.GetJsonAsync("/api/v1/routes");
        Assert.Contains(control, listing.GetProperty("fleet_unavailable").GetString(), StringComparison.Ordinal);
        Assert.Equal("running", listing.GetProperty("routes")[0].GetProperty("state").GetString());
        Delivered.AssertExactlyOnceInOrder(receiver.Requests, new Dictionary<int, int> { [0] = Messages });
    }

    private static async Task OwnedOneEachAsync(FleetNode a, FleetNode b)
    {
        foreach (var node in new[] { a, b })
        {
            await node.WaitForPartitionsAsync("rf", p => p.Count == 2 && FleetNode.Owners(p) is var owners && owners.Values.Contains(a.Instance) && owners.Values.Contains(b.Instance),
                "one partition owned by each instance");
        }
    }

    private static IEnumerable<(int, byte[]?, byte[]?)> Produce(int from, int to) =>
        Enumerable.Range(from, to - from).SelectMany(i => new[] { 0, 1 }.Select(p => (p, (byte[]?)Encoding.UTF8.GetBytes($"k{p}"), (byte[]?)Encoding.UTF8.GetBytes($"v{p}-{i}"))));
}
