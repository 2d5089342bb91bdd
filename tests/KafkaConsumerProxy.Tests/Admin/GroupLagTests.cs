using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>The lag read from the broker, whatever this process fetches: a real kcp process, its /metrics and API.</summary>
public sealed class GroupLagTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private const int Produced = 7;

    private readonly TestCluster _cluster;

    public GroupLagTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task PausedRoute_MetricsLagIsTheMessagesProducedMeanwhile_PerPartitionWithGroup_ZeroAfterResume_Issue17()
    {
        var topic = _cluster.CreateTopic("lag", 2);
        var group = Names.Unique("g");
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers, ProxyConfigWriter.FastConsumerConf);
        config.AddRoute("lagged", topic, group, receiver.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        using var admin = await AdminClient.ConnectAsync(config.StateDir, kcp, null, Patience);

        // Delivered and committed first: lag 0 on both partitions.
        await _cluster.ProduceAsync(topic, Messages(0, 3));
        await receiver.WaitForAsync(r => r.Accepted().Count() >= 6, Patience);
        await WaitForLagAsync(admin, topic, group, 0, "lag 0 on both partitions before the pause");

        var (pauseStatus, pauseBody) = await admin.PostAsync("/api/v1/routes/lagged/pause");
        Assert.True(pauseStatus == 200, pauseBody);
        await admin.WaitForJsonAsync("/api/v1/routes/lagged", r => r.GetProperty("state").GetString() == "paused", "lagged paused", Patience);
        await _cluster.ProduceAsync(topic, Messages(3, Produced));

        // Paused: nothing fetched, yet the lag is the messages produced meanwhile, on each partition, with the group.
        await WaitForLagAsync(admin, topic, group, Produced, $"lag {Produced} on each partition while paused");
        await admin.WaitForJsonAsync("/api/v1/routes/lagged", r => r.GetProperty("total_lag").GetInt64() == 2 * Produced,
            $"total_lag {2 * Produced} in the API while paused", Patience);
        Assert.Equal(6, receiver.Requests.Accepted().Count());

        var (resumeStatus, resumeBody) = await admin.PostAsync("/api/v1/routes/lagged/resume");
        Assert.True(resumeStatus == 200, resumeBody);
        await receiver.WaitForAsync(r => r.Accepted().Select(x => (x.Partition, x.Offset)).Distinct().Count() == 2 * (3 + Produced), Patience);
        await WaitForLagAsync(admin, topic, group, 0, "lag 0 on both partitions after the resume");
        await admin.WaitForJsonAsync("/api/v1/routes/lagged", r => r.GetProperty("total_lag").GetInt64() == 0, "total_lag 0 after the resume", Patience);
    }

    private static IEnumerable<(int, byte[]?, byte[]?)> Messages(int from, int perPartition) =>
        Enumerable.Range(from, perPartition).SelectMany(i => new[] { 0, 1 }.Select(p => (p, (byte[]?)Encoding.UTF8.GetBytes($"k{p}-{i}"), (byte[]?)Encoding.UTF8.GetBytes($"v{p}-{i}"))));

    // Waits until /metrics shows kcp_consumer_lag = expected for partitions 0 and 1 of the topic, each with the group's label.
    private static async Task WaitForLagAsync(AdminClient admin, string topic, string group, long expected, string what)
    {
        await Eventually.ValueAsync(
            () => admin.GetAsync("/metrics"),
            answer => answer.Status == 200 && Lags(answer.Body, topic, group) is { Count: 2 } lags && lags.All(l => l.Value == expected) && lags.ContainsKey(0) && lags.ContainsKey(1),
            "metrics: " + what,
            Patience,
            answer => $"{answer.Status}\n" + string.Join('\n', answer.Body.Split('\n').Where(l => l.StartsWith("kcp_consumer_lag", StringComparison.Ordinal))),
            TimeSpan.FromMilliseconds(250));
    }

    // kcp_consumer_lag of route lagged per partition, only from series that carry the topic and the consumer group.
    private static Dictionary<int, double> Lags(string metrics, string topic, string group) =>
        metrics.Split('\n')
            .Select(l => Regex.Match(l, @"^kcp_consumer_lag\{([^}]*)\} (\S+)"))
            .Where(m => m.Success && m.Groups[1].Value.Contains("route=\"lagged\"", StringComparison.Ordinal)
                && m.Groups[1].Value.Contains($"messaging_consumer_group_name=\"{group}\"", StringComparison.Ordinal)
                && m.Groups[1].Value.Contains($"messaging_destination_name=\"{topic}\"", StringComparison.Ordinal))
            .ToDictionary(
                m => int.Parse(Regex.Match(m.Groups[1].Value, "messaging_destination_partition_id=\"(\\d+)\"").Groups[1].Value, CultureInfo.InvariantCulture),
                m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
}
