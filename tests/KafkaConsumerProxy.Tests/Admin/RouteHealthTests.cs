using System.Globalization;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>A route's health from its state, breaker and failing messages; its settings without secrets.</summary>
public sealed class RouteHealthTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(nameof(RouteState.Running), null, new int[0], "running", "")]
    [InlineData(nameof(RouteState.Running), null, new[] { 1, 1 }, "failing", "2 partitions failing")]
    [InlineData(nameof(RouteState.Running), null, new[] { 10, 3, 12 }, "blocked", "2 partitions blocked, 1 partition failing")]
    [InlineData(nameof(RouteState.Running), "open", new[] { 10 }, "breaker_open", "breaker open, 1 partition blocked")]
    [InlineData(nameof(RouteState.Running), "half-open", new int[0], "breaker_open", "breaker half-open")]
    [InlineData(nameof(RouteState.Paused), "open", new[] { 10 }, "paused", "breaker open, 1 partition blocked")]
    [InlineData(nameof(RouteState.Stopped), null, new[] { 10 }, "stopped", "1 partition blocked")]
    [InlineData(nameof(RouteState.Failed), null, new int[0], "failed", "")]
    [InlineData(nameof(RouteState.Restarting), null, new int[0], "restarting", "")]
    public void Health_IsTheWorstOfStateBreakerAndPartitions_Issue19(string state, string? breaker, int[] attempts, string health, string detail)
    {
        var status = new RouteStatus("r", "t", "g", "default", 1, Enum.Parse<RouteState>(state), At, "cause", false, false, 0, null, null, null, 1);
        // One failing message per partition, with that many attempts.
        var failing = attempts.Select((a, p) => new FailingMessage("r", "t", p, 0, null, a, At, "BadStatus", 500, null, "HTTP 500 from h")).ToList();

        Assert.Equal((health, detail), RouteHealth.Of(status, breaker is null ? null : new BreakerView(breaker, At, 1), failing));
        Assert.Contains(health, RouteHealth.Names);
    }

    [Fact]
    public void Settings_NameTheAuthTypeAndHeaderNames_NeverTheirSecrets_Issue19()
    {
        foreach (var auth in new[]
        {
            new AuthSettings { Type = AuthType.Bearer, Token = "bearer-secret-1" },
            new AuthSettings { Type = AuthType.Basic, Username = "u", Password = "basic-secret-1" },
            new AuthSettings { Type = AuthType.OAuth2ClientCredentials, TokenUrl = new Uri("http://127.0.0.1/t"), ClientId = "c", ClientSecret = "oauth-secret-1" },
        })
        {
            var route = new RouteDefinition
            {
                Name = "r",
                SourceFile = "/etc/kcp/routes/r.yaml",
                Topic = "t",
                Group = "g",
                Endpoint = new EndpointSettings { Hosts = ["10.0.0.5", "10.0.0.6"], Port = 8080, Url = "/consume", Auth = auth, Headers = [new("X-Api-Key", "header-secret-1")] },
                DeadLetter = new DeadLetterSettings { Topic = "t-dlq" },
            };

            var view = RouteSettingsView.Of(route);
            var json = System.Text.Json.JsonSerializer.Serialize(view, KafkaConsumerProxy.Admin.ControlJson.Options);

            Assert.Equal(["http://10.0.0.5:8080/consume", "http://10.0.0.6:8080/consume"], view.Endpoint);
            Assert.Equal(["X-Api-Key"], view.Headers);
            Assert.Equal("t-dlq", view.DeadLetterTopic);
            Assert.Equal("r.yaml", view.SourceFile);
            Assert.DoesNotContain("secret-1", json, StringComparison.Ordinal);
            Assert.Contains("\"auth\":", json, StringComparison.Ordinal);
        }
    }
}
