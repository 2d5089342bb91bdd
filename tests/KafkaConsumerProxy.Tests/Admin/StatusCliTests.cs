using System.Text;
using KafkaConsumerProxy.Tests.Harness;
using KafkaConsumerProxy.Tests.Routes;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary><c>kcp status</c> and <c>kcp skip</c> against the real process.</summary>
public sealed class StatusCliTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public StatusCliTests(TestCluster cluster) => _cluster = cluster;

    [Fact]
    public async Task StatusAndSkip_ShowTheStuckMessage_SkipItByPartitionOffset_ClearErrorWhenNotRunning_Issue9()
    {
        var topic = _cluster.CreateTopic("cli-status", 1);
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 0, Fault.Status(502)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("pay", topic, Names.Unique("g"), receiver.Port);

        var (code, output) = await RoutesProcessTests.CliAsync("status", "--config", config.ConfigFile);
        Assert.Equal(1, code);
        Assert.Contains("kcp is not running for this configuration", output, StringComparison.Ordinal);

        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await _cluster.ProduceAsync(topic, Enumerable.Range(0, 2).Select(i => (0, (byte[]?)null, (byte[]?)Encoding.UTF8.GetBytes($"m{i}"))));
        await receiver.WaitForAsync(r => r.Count(x => x.Offset == 0) >= 2, Patience);

        (code, output) = await Eventually.ValueAsync(
            () => RoutesProcessTests.CliAsync("status", "pay", "--config", config.ConfigFile),
            status => status.Output.Contains("offset 0: ", StringComparison.Ordinal),
            "kcp status pay naming the failing offset 0",
            Patience,
            status => $"exit {status.Code}: {status.Output}",
            TimeSpan.FromMilliseconds(200));
        Assert.True(code == 0, output);
        Assert.Contains("HTTP 502", output, StringComparison.Ordinal);
        (code, output) = await Eventually.ValueAsync(
            () => RoutesProcessTests.CliAsync("status", "--config", config.ConfigFile),
            status => status.Output.Contains("breaker", StringComparison.Ordinal),
            "kcp status showing the open breaker",
            Patience,
            status => $"exit {status.Code}: {status.Output}",
            TimeSpan.FromMilliseconds(200));
        Assert.True(code == 0, output);

        // The message fails alone 20 times in a row (10 ms apart): the route's circuit breaker is open, and says since when.
        Assert.Matches(@"(?m)^pay\s+running for \d+[smhd]( \d+[smh])?, breaker (open|half-open) for \d+[smhd]( \d+[smh])? \(\d+ probes\)\s", output);

        (code, output) = await RoutesProcessTests.CliAsync("skip", "pay", "0:1", "--config", config.ConfigFile);
        Assert.Equal(4, code);
        Assert.Contains("is not being retried", output, StringComparison.Ordinal);
        (code, output) = await RoutesProcessTests.CliAsync("skip", "pay", "nonsense", "--config", config.ConfigFile);
        Assert.Equal(2, code);
        // Skipped at once, though the open breaker holds the message's next attempt.
        (code, output) = await RoutesProcessTests.CliAsync("skip", "pay", "0:0", "--config", config.ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("pay partition 0 offset 0: skipped", output, StringComparison.Ordinal);
        await receiver.WaitForAsync(r => r.Accepted().Any(x => x.Offset == 1), Patience);
        // The audit line is written once the answer has gone out, so possibly after the CLI ended.
        await Eventually.TrueAsync(
            () => File.ReadLines(Path.Combine(config.StateDir, "audit.jsonl")).Any(l => l.Contains("\"who\":\"control socket\"", StringComparison.Ordinal) && l.Contains("skip?offset=0", StringComparison.Ordinal)),
            "the skip in the audit log", Patience, () => File.ReadAllText(Path.Combine(config.StateDir, "audit.jsonl")));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task StateDirRemovedWhileRunning_SocketAndAdminAddressWrittenAgain_CliWorksAgain_Issue23()
    {
        var topic = _cluster.CreateTopic("cli-statedir", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("pay", topic, Names.Unique("g"), receiver.Port);
        await using var kcp = KcpProcess.Run(config.ConfigFile);
        await kcp.WaitForOutputAsync("Admin endpoint listening", Patience);
        var adminFile = Path.Combine(config.StateDir, "admin.json");
        var address = await File.ReadAllTextAsync(adminFile);
        Assert.Equal(0, (await RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile)).Code);

        Directory.Delete(config.StateDir, recursive: true);

        // Re-created within a few seconds: the CLI reaches kcp again, and kcp status finds the admin endpoint.
        var (_, output) = await Eventually.ValueAsync(
            () => RoutesProcessTests.CliAsync("routes", "list", "--config", config.ConfigFile),
            list => list.Code == 0 && File.Exists(adminFile),
            "kcp routes list answered and admin.json written again",
            Patience,
            list => $"exit {list.Code}, admin.json {(File.Exists(adminFile) ? "present" : "absent")}: {list.Output}",
            TimeSpan.FromMilliseconds(200));
        Assert.Matches(@"(?m)^pay\s+running\s", output);
        Assert.Equal(address, await File.ReadAllTextAsync(adminFile));
        Assert.Empty(Directory.EnumerateFiles(config.StateDir, "*.tmp"));

        kcp.SendSignal(KcpProcess.SigTerm);
        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
    }
}
