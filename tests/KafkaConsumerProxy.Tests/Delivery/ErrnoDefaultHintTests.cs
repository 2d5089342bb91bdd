using System.Text;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// An endpoint that answers a 2xx with an empty or plain-text body under the default <c>response_check: errno</c>: the
/// message is retried as always, and the route's log names <c>response_check: status</c> once, whatever the number of
/// attempts. A real endpoint, the embedded cluster and the proxy as it runs.
/// </summary>
public sealed class ErrnoDefaultHintTests : IClassFixture<TestCluster>
{
    private const string Hint = "set response_check: status";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster;

    public ErrnoDefaultHintTests(TestCluster cluster) => _cluster = cluster;

    [Theory]
    [InlineData(204, "", "with an empty body", 1)]
    [InlineData(200, "OK", "with a body that is not a JSON object", 1)]
    [InlineData(200, "{\"errno\":7}", null, 0)]
    public async Task ErrnoRoute_2xxWithoutJsonObject_RetriedAndWarnsOnceNamingStatus_Issue19(int status, string body, string? described, int hints)
    {
        var topic = _cluster.CreateTopic("errno-hint", 1);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 2));
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/plain";
            if (body.Length > 0)
                await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(body));
        });
        var group = Names.Unique("g");
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        File.WriteAllText(Path.Combine(config.RoutesDir, "orders.yaml"),
            $"topic: {topic}\ngroup: {group}\nendpoint: http://127.0.0.1:{endpoint.Port}/hook\nretry_interval_ms: 20\n");

        await using var proxy = InProcessProxy.Start(config.ConfigFile);
        // Attempts go on: the first message is never accepted, so the one log line must not repeat with them.
        await Eventually.TrueAsync(() => endpoint.Requests >= 6, "six attempts of the first message", Patience, () => $"{endpoint.Requests} request(s)");
        await proxy.StopAsync();

        var lines = proxy.Logs.Where(l => l.Contains(Hint, StringComparison.Ordinal)).ToList();
        Assert.Equal(hints, lines.Count);
        if (hints > 0)
        {
            Assert.StartsWith("Warning: Route orders: 127.0.0.1:", lines[0], StringComparison.Ordinal);
            Assert.Contains($"answered HTTP {status} {described}, which response_check: errno (the default) does not accept", lines[0], StringComparison.Ordinal);
        }

        // Not accepted, so not committed: delivery is as it always was.
        Assert.True(Delivered.CommittedOffsets(_cluster.BootstrapServers, group, topic, 1)[0] <= 0);
    }
}
