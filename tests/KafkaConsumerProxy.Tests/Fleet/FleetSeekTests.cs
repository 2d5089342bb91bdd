using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Fleet;

/// <summary>
/// A seek sent to any instance of a fleet: two real kcp processes of one route and group, each with its own state_dir
/// and admin port, on one embedded cluster; the seek of a partition goes to its owner through the control topic.
/// </summary>
public sealed class FleetSeekTests : IClassFixture<TestCluster>
{
    private const int Messages = 5;
    private static readonly TimeSpan Patience = FleetNode.Patience;
    private readonly TestCluster _cluster;

    public FleetSeekTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task SeekThroughOne_OfTheOthersPartition_MovesItThere_RefusalsAnsweredThrough_NothingElseMoves_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 2);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        // The mock cluster answers no CreateTopics: the control topic is created through it beforehand.
        _cluster.Mock.CreateTopic(control, 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        await using var b = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port);
        foreach (var node in new[] { a, b })
        {
            await node.WaitForPartitionsAsync("rf", p => p.Count == 2 && FleetNode.Owners(p) is var owners && owners.Values.Contains(a.Instance) && owners.Values.Contains(b.Instance),
                "one partition owned by each instance");
        }

        await _cluster.ProduceAsync(topic, Produce(0, Messages));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 2 * Messages, Patience);
        var owners = FleetNode.Owners([.. (await a.Admin.GetJsonAsync("/api/v1/routes/rf")).GetProperty("partitions").EnumerateArray()]);
        var (local, remote) = (owners.Single(o => o.Value == a.Instance).Key, owners.Single(o => o.Value == b.Instance).Key);

        // Refused at the owner (outside the log): the refusal comes back through a, naming b.
        var (status, body) = await SeekAsync(a, $$"""{"partition": {{remote}}, "offset": 1000}""");
        Assert.True(status == 400, $"{status} {body}");
        Assert.Contains(b.Instance, body, StringComparison.Ordinal);
        Assert.Contains("outside", body, StringComparison.Ordinal);

        // Every partition across two instances cannot be all or nothing: refused, naming each partition's owner.
        (status, body) = await SeekAsync(a, """{"offset": 1}""");
        Assert.True(status == 409, $"{status} {body}");
        Assert.Contains($"partition {remote}: instance {b.Instance}", body, StringComparison.Ordinal);
        Assert.Contains($"partition {local}: instance {a.Instance} (this one)", body, StringComparison.Ordinal);

        // b's partition moved back to offset 1 through a: the answer is b's move.
        (status, body) = await SeekAsync(a, $$"""{"partition": {{remote}}, "offset": 1}""");
        Assert.True(status == 200, $"{status} {body}");
        using (var answer = JsonDocument.Parse(body))
        {
            Assert.Equal(b.Instance, answer.RootElement.GetProperty("instance").GetString());
            var move = Assert.Single(answer.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(remote, move.GetProperty("partition").GetInt32());
            Assert.Equal(Messages, move.GetProperty("from").GetInt64());
            Assert.Equal(1, move.GetProperty("to").GetInt64());
        }

        // One more message each: everything before it was delivered, so nothing else moved.
        await _cluster.ProduceAsync(topic, Produce(Messages, Messages + 1));
        await receiver.WaitForAsync(r => r.Accepted().Count(x => x.Partition == remote) >= 2 * Messages && r.Accepted().Count(x => x.Partition == local) >= Messages + 1, Patience);
        Assert.Equal([0L, 1, 2, 3, 4, 1, 2, 3, 4, 5], Offsets(receiver, remote));
        Assert.Equal([0L, 1, 2, 3, 4, 5], Offsets(receiver, local));
        await b.Kcp.WaitForOutputAsync(l => l.Contains("kcp[2208]", StringComparison.Ordinal) && l.Contains("moved from 5 to 1", StringComparison.Ordinal), "[2208] logged: moved from 5 to 1", Patience);

        // The three seeks are in the fleet's audit trail, as read from b.
        var audit = await b.Admin.WaitForJsonAsync("/api/v1/audit", r => r.EnumerateArray().Count(e => e.GetProperty("path").GetString()!.EndsWith("/seek", StringComparison.Ordinal)) == 3,
            "the three seeks in the audit trail", Patience);
        var seeks = audit.EnumerateArray().Where(e => e.GetProperty("path").GetString()!.EndsWith("/seek", StringComparison.Ordinal)).ToList();
        Assert.Equal([400, 409, 200], seeks.Select(e => e.GetProperty("status").GetInt32()));
        Assert.All(seeks, e => Assert.Equal(a.Instance, e.GetProperty("instance").GetString()));
    }

    [Fact]
    public async Task ForwardSeekThroughOne_PastTheOthersUnfinished_RefusedWithoutForce_SkippedThereWithForce_Issue17()
    {
        var topic = _cluster.CreateTopic("fleet", 2);
        var (group, control) = (Names.Unique("g"), Names.Unique("ctl"));
        _cluster.Mock.CreateTopic(control, 1);
        // Offset 1 of each partition fails until something passes it; the route never skips on its own.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.When(r => r.Offset == 1, Fault.Status(500) with { Body = "stuck" }));
        var keys = new Dictionary<string, object> { ["retry_interval_ms"] = 100 };
        await using var a = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port, keys);
        await using var b = await FleetNode.StartAsync(_cluster, control, "rf", topic, group, receiver.Port, keys);
        // Produced once each instance owns its partition: a message delivered while the group still rebalances can be
        // delivered again by the partition's next owner (the embedded cluster refuses commits while its group joins).
        foreach (var node in new[] { a, b })
        {
            await node.WaitForPartitionsAsync("rf", p => p.Count == 2 && FleetNode.Owners(p).Values.ToHashSet().SetEquals([a.Instance, b.Instance]),
                "one partition owned by each instance");
        }

        await _cluster.ProduceAsync(topic, Produce(0, Messages));
        var view = await a.WaitForPartitionsAsync("rf", p => p.Count == 2 && FleetNode.Owners(p).Values.ToHashSet().SetEquals([a.Instance, b.Instance])
            && FleetNode.FailingHeads(p) is { Count: 2 } heads && heads.Values.All(o => o == 1), "one partition owned by each instance, both stuck at offset 1");
        var remote = FleetNode.Owners([.. view.GetProperty("partitions").EnumerateArray()]).Single(o => o.Value == b.Instance).Key;
        await b.WaitForPartitionsAsync("rf", p => p.Any(x => x.GetProperty("partition").GetInt32() == remote && x.GetProperty("next_offset").GetInt64() == Messages),
            $"partition {remote} fetched to {Messages}");

        // Without force the owner refuses to pass offsets 1 and 2: answered through a, nothing moves.
        var (status, body) = await SeekAsync(a, $$"""{"partition": {{remote}}, "offset": 3}""");
        Assert.True(status == 409, $"{status} {body}");
        Assert.Contains($"instance {b.Instance}", body, StringComparison.Ordinal);
        Assert.Contains("offsets 1-2 are not finished", body, StringComparison.Ordinal);
        Assert.Equal(0, (await b.Admin.GetJsonAsync("/api/v1/skipped?route=rf")).GetArrayLength());

        // With force each passed message is skipped (kind seek) at the owner, and the rest delivered.
        (status, body) = await SeekAsync(a, $$"""{"partition": {{remote}}, "offset": 3, "force": true}""");
        Assert.True(status == 200, $"{status} {body}");
        using (var answer = JsonDocument.Parse(body))
        {
            var move = Assert.Single(answer.RootElement.GetProperty("moved").EnumerateArray());
            Assert.Equal(1, move.GetProperty("from").GetInt64());
            Assert.Equal(3, move.GetProperty("to").GetInt64());
            Assert.Equal([1L, 2], move.GetProperty("skipped").EnumerateArray().Select(e => e.GetInt64()));
        }

        await receiver.WaitForAsync(r => r.Accepted().Any(x => x.Partition == remote && x.Offset == Messages - 1), Patience);
        var skipped = await b.Admin.WaitForJsonAsync("/api/v1/skipped?route=rf", r => r.GetArrayLength() == 2, "two skip records at the owner", Patience);
        Assert.All(skipped.EnumerateArray(), s => Assert.Equal("seek", s.GetProperty("kind").GetString()));
        Assert.All(skipped.EnumerateArray(), s => Assert.Contains("through instance " + a.Instance, s.GetProperty("by").GetString(), StringComparison.Ordinal));
        Assert.Equal([1L, 2], skipped.EnumerateArray().Select(s => s.GetProperty("offset").GetInt64()));
        // Skip records stay with the instance that wrote them.
        Assert.Equal(0, (await a.Admin.GetJsonAsync("/api/v1/skipped?route=rf")).GetArrayLength());
        Assert.Equal([0L, 3, 4], Offsets(receiver, remote));
    }

    private static Task<(int Status, string Body)> SeekAsync(FleetNode node, string json) =>
        node.Admin.SendAsync(HttpMethod.Post, "/api/v1/routes/rf/seek", tweak: r => r.Content = new StringContent(json, Encoding.UTF8, "application/json"));

    private static List<long> Offsets(RecordingReceiver receiver, int partition) =>
        [.. receiver.Requests.Accepted().Where(r => r.Partition == partition).Select(r => r.Offset!.Value)];

    private static IEnumerable<(int, byte[]?, byte[]?)> Produce(int from, int to) =>
        Enumerable.Range(from, to - from).SelectMany(i => new[] { 0, 1 }.Select(p => (p, (byte[]?)Encoding.UTF8.GetBytes($"k{p}"), (byte[]?)Encoding.UTF8.GetBytes($"v{p}-{i}"))));
}
