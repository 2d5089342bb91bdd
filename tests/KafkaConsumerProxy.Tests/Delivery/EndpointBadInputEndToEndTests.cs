using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The "Bad input" of docs/ENDPOINT-CONTRACT.md end to end: the embedded cluster, the proxy in process, and an
/// endpoint that writes its answers byte by byte (<see cref="RawHttpEndpoint"/>), so a header value can hold a raw CR,
/// LF or NUL and an interim 1xx answer can carry a <c>Kcp-Action</c>. A hostile answer never loses a message it did
/// not ask to skip.
/// </summary>
public sealed class EndpointBadInputEndToEndTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(40);
    private readonly TestCluster _cluster;

    public EndpointBadInputEndToEndTests(TestCluster cluster) => _cluster = cluster;

    /// <summary>
    /// One partition, one bad first answer per message (<c>can_skip: false</c>, so any skip would be the endpoint's):
    /// CR, obs-fold and NUL inside a <c>Kcp-Action</c> value, a <c>Kcp-Action: skip</c> hidden after a bare CR in
    /// another header or on a 103, a 307 that is not followed, a huge and a past <c>Retry-After</c>; each is retried
    /// and delivered by its second answer. Only the 303 with <c>Kcp-Action: skip</c> is skipped.
    /// </summary>
    [Fact]
    public async Task HostileAnswers_EachRetriedAndDelivered_OnlyTheMessageAskedForIsSkipped_HugeRetryAfterCapped_PastDateNotWaited_Issue20()
    {
        var topic = _cluster.CreateTopic("bad-input", 1);
        var group = Names.Unique("g");
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 9));
        await using var elsewhere = RawHttpEndpoint.Start(_ => RawHttpEndpoint.Answer("200 OK", ""));
        var first = new Dictionary<long, byte[]>
        {
            [0] = RawHttpEndpoint.Answer("500 Internal Server Error", "Kcp-Action: skip\rretry\r\n"),
            [1] = RawHttpEndpoint.Answer("503 Service Unavailable", "Kcp-Action: retry\r\n skip\r\n"),
            [2] = RawHttpEndpoint.Answer("500 Internal Server Error", "X-Note: a\rKcp-Action: skip\r\n"),
            [3] = RawHttpEndpoint.Answer("500 Internal Server Error", "Kcp-Action: sk\0ip\r\n"),
            [4] = [.. "HTTP/1.1 103 Early Hints\r\nKcp-Action: skip\r\n\r\n"u8, .. RawHttpEndpoint.Answer("500 Internal Server Error", "")],
            [5] = RawHttpEndpoint.Answer("307 Temporary Redirect", $"Location: http://127.0.0.1:{elsewhere.Port}/\r\n"),
            [6] = RawHttpEndpoint.Answer("200 OK", "Kcp-Action: retry\r\nRetry-After: 1000000000000\r\n"),
            [7] = RawHttpEndpoint.Answer("200 OK", "Kcp-Action: retry\r\nRetry-After: Thu, 01 Jan 2015 00:00:00 GMT\r\n"),
            [8] = RawHttpEndpoint.Answer("303 See Other", $"Location: http://127.0.0.1:{elsewhere.Port}/\r\nKcp-Action: skip\r\n"),
        };
        await using var endpoint = RawHttpEndpoint.Start(r => r.Attempt == 1 && r.Offset is { } o && first.TryGetValue(o, out var answer) ? answer : RawHttpEndpoint.Answer("200 OK", ""));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("bad", topic, group, endpoint.Port, new Dictionary<string, object>
        {
            ["can_skip"] = false,
            ["retry_interval_ms"] = 100,
            ["retry_max_interval_ms"] = 4000,
        });

        await using (var proxy = InProcessProxy.Start(config.ConfigFile))
        {
            await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 1, c => c[0] == 9, "the commit of all nine", Patience);
            await proxy.StopAsync();
            // Logged once per route, the first value as received (its CR a space).
            Assert.Single(proxy.Logs, l => l.Contains("is not one of retry, skip", StringComparison.Ordinal));
            Assert.Contains(proxy.Logs, l => l.Contains("Kcp-Action 'skip retry'", StringComparison.Ordinal));
        }

        var requests = endpoint.Requests;
        for (var offset = 0L; offset < 8; offset++)
        {
            Assert.Equal([1, 2], requests.Where(r => r.Offset == offset).Select(r => r.Attempt));
        }

        Assert.Equal([1], requests.Where(r => r.Offset == 8).Select(r => r.Attempt));
        Assert.Empty(elsewhere.Requests);
        var huge = Gap(requests, 6);
        Assert.True(huge >= TimeSpan.FromMilliseconds(3900), $"Retry-After: 10^12 s waited {huge.TotalMilliseconds:F0} ms, not retry_max_interval_ms (4000)");
        var past = Gap(requests, 7);
        Assert.True(past < TimeSpan.FromSeconds(3), $"a Retry-After in the past waited {past.TotalMilliseconds:F0} ms");

        using var record = JsonDocument.Parse(Assert.Single(File.ReadAllLines(config.SkipFile)));
        Assert.Equal(8, record.RootElement.GetProperty("offset").GetInt64());
        Assert.Equal("endpoint", record.RootElement.GetProperty("kind").GetString());
        Assert.Equal("skip", record.RootElement.GetProperty("action").GetString());
        Assert.Equal(303, record.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(1, record.RootElement.GetProperty("attempts").GetInt32());
    }

    private static TimeSpan Gap(IReadOnlyList<RawRequest> requests, long offset)
    {
        var two = requests.Where(r => r.Offset == offset).ToList();
        return two[1].ArrivedAt - two[0].ArrivedAt;
    }
}
