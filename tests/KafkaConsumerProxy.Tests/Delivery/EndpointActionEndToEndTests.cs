using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The endpoint's <c>Kcp-Action</c> answer header end to end: the embedded cluster, a scripted endpoint, the proxy in
/// process; skip records read from the file, dead letters read back from their topic.
/// </summary>
public sealed class EndpointActionEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public EndpointActionEndToEndTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task DeadLetter_OneAttempt_OneDeadLetterRecordWithTheUsualHeaders_EvenWithCanSkipFalse_Issue20()
    {
        var topic = _cluster.CreateTopic("act-dlq-src", 1);
        var dlq = _cluster.CreateTopic("act-dlq-dst", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 0, Answer(200, "dead-letter", body: "{\"errno\":0,\"why\":\"poison\"}")));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["dead_letter_topic"] = dlq });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 2, "the commit of both messages", Patience);
            await proxy.StopAsync();
        }

        Assert.Single(receiver.Requests, r => r.Offset == 0);
        Assert.Single(receiver.Requests.Accepted(), r => r.Offset == 1);
        var message = Assert.Single(DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1));
        Assert.Equal("0-0", Encoding.UTF8.GetString(message.Message.Value!));
        var headers = message.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
        Assert.Equal("endpoint", headers["kcp.dlq.kind"]);
        Assert.Equal("1", headers["kcp.dlq.attempts"]);
        Assert.Equal("200", headers["kcp.dlq.last_status"]);
        Assert.Equal("{\"errno\":0,\"why\":\"poison\"}", headers["kcp.dlq.last_body"]);
        Assert.StartsWith("Kcp-Action: dead-letter with HTTP 200 from 127.0.0.1:", headers["kcp.dlq.last_failure"], StringComparison.Ordinal);
        Assert.Equal(topic, headers["kcp.dlq.topic"]);
        Assert.Equal("0", headers["kcp.dlq.offset"]);

        using var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile)));
        Assert.Equal("endpoint", record.RootElement.GetProperty("kind").GetString());
        Assert.Equal("dead-letter", record.RootElement.GetProperty("action").GetString());
        Assert.Equal(message.Offset.Value, record.RootElement.GetProperty("dead_letter").GetProperty("offset").GetInt64());
    }

    [Fact]
    public async Task Skip_OneAttempt_SkipRecordOfKindEndpoint_NotDeadLettered_EvenWithCanSkipFalse_Issue20()
    {
        var topic = _cluster.CreateTopic("act-skip", 1);
        var dlq = _cluster.CreateTopic("act-skip-dst", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 0, Answer(500, "skip")));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["dead_letter_topic"] = dlq });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 2, "the commit of both messages", Patience);
            await proxy.StopAsync();
            Assert.Contains(proxy.Logs, l => l.Contains("skipped act-skip", StringComparison.Ordinal) && l.Contains("Kcp-Action: skip with HTTP 500", StringComparison.Ordinal));
        }

        Assert.Single(receiver.Requests, r => r.Offset == 0);
        using var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile)));
        Assert.Equal("endpoint", record.RootElement.GetProperty("kind").GetString());
        Assert.Equal("skip", record.RootElement.GetProperty("action").GetString());
        Assert.Equal(0, record.RootElement.GetProperty("offset").GetInt64());
        Assert.Equal(500, record.RootElement.GetProperty("status").GetInt32());
        Assert.False(record.RootElement.TryGetProperty("dead_letter", out _));
        Assert.Empty(DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1));
    }

    [Fact]
    public async Task RetryOn200_WithRetryAfter2_SecondAttemptAtLeastTwoSecondsLater_Issue20()
    {
        var topic = _cluster.CreateTopic("act-retry", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 1));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.FailTimes(1, Answer(200, "retry", retryAfter: "2")));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object> { ["retry_max_interval_ms"] = 5000 });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        await receiver.WaitForAsync(r => r.Accepted().Any(), Patience);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 1, "the commit", Patience);

        var requests = receiver.Requests;
        Assert.True(requests.Count == 2, $"{requests.Count} requests:\n{string.Join('\n', requests)}\n{string.Join('\n', proxy.Logs.TakeLast(30))}");
        Assert.True(requests[1].ArrivedAt - requests[0].ArrivedAt >= TimeSpan.FromSeconds(2), $"second attempt {(requests[1].ArrivedAt - requests[0].ArrivedAt).TotalMilliseconds:F0} ms after the first:\n{string.Join('\n', requests)}\n{string.Join('\n', proxy.Logs.TakeLast(30))}");
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0);
    }

    [Fact]
    public async Task Pause_WithRetryAfter2_RoutePausedAsByAnOperator_AuditedAsTheEndpoint_ResumedAfter_NothingSkipped_Issue20()
    {
        var topic = _cluster.CreateTopic("act-pause", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.FailTimes(1, Answer(200, "pause", retryAfter: "2")));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = true, ["retry_nums"] = 0 });

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        var audit = Path.Combine(config.StateDir, "audit.jsonl");
        await Eventually.ValueAsync(() => File.Exists(audit) ? File.ReadAllText(audit) : "", text => text.Contains("/pause", StringComparison.Ordinal), "the endpoint's pause in the audit", Patience, text => $"'{text}'", TimeSpan.FromMilliseconds(50));
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 2, "the commit of both messages", Patience);

        var lines = File.ReadAllLines(audit).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["/api/v1/routes/act/pause", "/api/v1/routes/act/resume"], lines.Select(l => l.GetProperty("path").GetString()));
        Assert.All(lines, l => Assert.Equal($"endpoint 127.0.0.1:{receiver.Port}", l.GetProperty("who").GetString()));
        Assert.All(lines, l => Assert.Equal("Kcp-Action", l.GetProperty("method").GetString()));
        var zero = receiver.Requests.Where(r => r.Offset == 0).ToList();
        Assert.Equal(2, zero.Count);
        Assert.True(zero[1].ArrivedAt - zero[0].ArrivedAt >= TimeSpan.FromSeconds(2), $"sent again {(zero[1].ArrivedAt - zero[0].ArrivedAt).TotalMilliseconds:F0} ms after the pause");
        // retry_nums: 0 with can_skip: true would have skipped it at the first failure: a pause is none.
        Assert.False(File.Exists(config.SkipFile) && File.ReadAllText(config.SkipFile).Length > 0);
        Assert.Contains(proxy.Logs, l => l.Contains("asked to pause the route", StringComparison.Ordinal));
        Assert.Contains(proxy.Logs, l => l.Contains("resumed after the endpoint's pause", StringComparison.Ordinal));
    }

    /// <summary>
    /// Bad input and the other actions on one partition, message by message: commit on a 500 and on a 302; dead-letter
    /// without a dead-letter topic; an unknown action on a 200 and two disagreeing actions on a 503 (ignored: the
    /// status decides, and can_skip: false keeps the 503'd message); a huge Retry-After and one dated in the past
    /// (bounded by retry_max_interval_ms and retry_interval_ms, not waited for).
    /// </summary>
    [Fact]
    public async Task ActionsOnAnyStatus_AndBadInput_EachAsDocumented_NothingLostThatWasNotAskedFor_Issue20()
    {
        var topic = _cluster.CreateTopic("act-bad", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 6));
        var scripts = new Dictionary<long, Fault[]>
        {
            [0] = [Answer(500, "commit")],
            [1] = [Answer(302, "COMMIT ")],
            [2] = [Answer(200, "dead-letter")],
            [3] = [Answer(200, "explode"), Fault.None],
            [4] = [Answer(503, "skip, commit"), Fault.None],
            [5] = [Answer(200, "retry", retryAfter: "99999999"), Answer(200, "retry", retryAfter: "Thu, 01 Jan 2015 00:00:00 GMT"), Fault.None],
        };
        var attempts = new ConcurrentDictionary<long, int>();
        await using var receiver = await RecordingReceiver.StartAsync(r =>
        {
            var n = attempts.AddOrUpdate(r.Offset ?? -1, 1, (_, a) => a + 1);
            return scripts.TryGetValue(r.Offset ?? -1, out var script) ? script[Math.Min(n, script.Length) - 1] : Fault.None;
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object> { ["can_skip"] = false, ["retry_max_interval_ms"] = 200 });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 6, "the commit of all six", Patience);
            await proxy.StopAsync();
            Assert.Single(proxy.Logs, l => l.Contains("no dead_letter_topic: skipped without one", StringComparison.Ordinal) && l.Contains("said once", StringComparison.Ordinal));
            // Logged once per route, whatever the value: 'explode' came first.
            Assert.Single(proxy.Logs, l => l.Contains("is not one of retry, skip", StringComparison.Ordinal));
            Assert.Contains(proxy.Logs, l => l.Contains("Kcp-Action 'explode'", StringComparison.Ordinal));
        }

        Assert.Equal(1, attempts[0]);
        Assert.Equal(1, attempts[1]);
        Assert.Equal(1, attempts[2]);
        Assert.Equal(1, attempts[3]);
        Assert.Equal(2, attempts[4]);
        Assert.Equal(3, attempts[5]);
        var five = receiver.Requests.Where(r => r.Offset == 5).ToList();
        Assert.True(five[2].ArrivedAt - five[0].ArrivedAt < TimeSpan.FromSeconds(5), "a huge Retry-After was waited for");
        using var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile)));
        Assert.Equal(2, record.RootElement.GetProperty("offset").GetInt64());
        Assert.Equal("endpoint", record.RootElement.GetProperty("kind").GetString());
        Assert.Equal("dead-letter", record.RootElement.GetProperty("action").GetString());
        Assert.Contains("no dead_letter_topic", record.RootElement.GetProperty("last_failure").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A batch's JSON answer names actions for single messages: one skipped, one dead-lettered, one retried alone; the
    /// others of the batch are delivered by that same answer.
    /// </summary>
    [Fact]
    public async Task BatchActions_SkipDeadLetterRetryPerMessage_TheRestDelivered_Issue20()
    {
        var topic = _cluster.CreateTopic("act-batch", 1);
        var dlq = _cluster.CreateTopic("act-batch-dst", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 8));
        var retried = 0;
        await using var receiver = await RecordingReceiver.StartAsync(r =>
        {
            var actions = new Dictionary<string, string>();
            foreach (var offset in BatchOffsets(r))
            {
                if (offset == 2)
                    actions["2"] = "skip";
                else if (offset == 4)
                    actions["4"] = "dead-letter";
                else if (offset == 6 && Interlocked.Exchange(ref retried, 1) == 0)
                    actions["6"] = "retry";
            }

            return Fault.None with { Body = JsonSerializer.Serialize(new { errno = 0, actions }) };
        });
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("act", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["format"] = "json", ["batch_size"] = 8, ["batch_linger_ms"] = 200, ["can_skip"] = false, ["dead_letter_topic"] = dlq,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 8, "the commit of all eight", Patience);
            await proxy.StopAsync();
        }

        var sent = receiver.Requests.SelectMany(BatchOffsets).GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 8).Select(o => (long)o), sent.Keys.Order());
        Assert.All(sent, s => Assert.Equal(s.Key == 6 ? 2 : 1, s.Value));
        Assert.Equal([6L], BatchOffsets(receiver.Requests.Last(r => BatchOffsets(r).Contains(6))));

        var records = File.ReadAllLines(config.SkipFile).Select(l => JsonDocument.Parse(l).RootElement).OrderBy(r => r.GetProperty("offset").GetInt64()).ToList();
        Assert.Equal([2L, 4L], records.Select(r => r.GetProperty("offset").GetInt64()));
        Assert.All(records, r => Assert.Equal("endpoint", r.GetProperty("kind").GetString()));
        Assert.Equal(["skip", "dead-letter"], records.Select(r => r.GetProperty("action").GetString()));
        Assert.False(records[0].TryGetProperty("dead_letter", out _));
        Assert.StartsWith("\"actions\": dead-letter in the answer, HTTP 200 from 127.0.0.1:", records[1].GetProperty("last_failure").GetString(), StringComparison.Ordinal);

        var message = Assert.Single(DeadLetterTests.ReadAll(_cluster.BootstrapServers, dlq, 1));
        Assert.Equal("0-4", Encoding.UTF8.GetString(message.Message.Value!));
        var headers = message.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
        Assert.Equal("endpoint", headers["kcp.dlq.kind"]);
        Assert.Equal("200", headers["kcp.dlq.last_status"]);
        Assert.Contains("\"4\":\"dead-letter\"", headers["kcp.dlq.last_body"], StringComparison.Ordinal);
    }

    private static List<long> BatchOffsets(ReceivedRequest request)
    {
        using var json = JsonDocument.Parse(request.Body);
        return [.. json.RootElement.EnumerateArray().Select(e => e.GetProperty("offset").GetInt64())];
    }

    /// <summary>An answer with <c>Kcp-Action: <paramref name="action"/></c> (and a Retry-After when given).</summary>
    internal static Fault Answer(int status, string action, string? retryAfter = null, string body = "{\"errno\":0}")
    {
        var headers = new Dictionary<string, string> { ["Kcp-Action"] = action };
        if (retryAfter is not null)
        {
            headers["Retry-After"] = retryAfter;
        }

        return new Fault
        {
            // Accepted (for Delivered.Accepted) only when the action delivers the message.
            Kind = action.Trim().Equals("commit", StringComparison.OrdinalIgnoreCase) ? FaultKind.None : status is >= 200 and < 300 ? FaultKind.ErrnoBody : FaultKind.HttpStatus,
            StatusCode = status,
            Body = body,
            Headers = headers,
        };
    }
}
