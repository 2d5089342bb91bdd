using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Cli;

/// <summary>
/// <c>kcp init</c> and <c>kcp schema</c> through the real process: what init writes is accepted by <c>kcp validate</c>,
/// an existing file is refused (exit 2, the file named, nothing written) unless <c>--force</c>, and the schema printed
/// is the one <see cref="ConfigSchema"/> makes.
/// </summary>
public sealed class InitAndSchemaCommandTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("kcp-init-").FullName;

    [Fact]
    public async Task Init_EmptyDirectory_WritesStarterThatValidates_PrintsNextSteps_Issue19()
    {
        var target = Path.Combine(_dir, "new");

        await using (var init = KcpProcess.Start("init", target))
        {
            Assert.Equal(0, await init.WaitForExitAsync(Patience));
            Assert.Contains("Next steps:", init.StdOut);
            Assert.Contains(init.StdOut, l => l.Contains("kcp validate --config", StringComparison.Ordinal));
        }

        var route = File.ReadAllText(Path.Combine(target, "routes", "example.yaml"));
        Assert.Equal(["topic", "group", "endpoint"], route.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':')[0]));
        Assert.Contains("# retry_interval_ms: 1000 ", route, StringComparison.Ordinal);

        await using var validate = KcpProcess.Validate(Path.Combine(target, "kcp.yaml"));
        Assert.Equal(0, await validate.WaitForExitAsync(Patience));
        Assert.Equal($"{Path.Combine(target, "kcp.yaml")}: OK, 1 route(s): example", validate.StdOut[0]);
    }

    [Fact]
    public async Task Init_ExistingFile_RefusedWithExit2NamingIt_ForceOverwrites_Issue19()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "routes"));
        var route = Path.Combine(_dir, "routes", "example.yaml");
        File.WriteAllText(route, "mine\n");

        await using (var init = KcpProcess.Start("init", _dir))
        {
            Assert.Equal(2, await init.WaitForExitAsync(Patience));
            Assert.Equal([$"kcp init: {route} already exists; nothing was written (give --force to overwrite it)"], init.StdErr);
        }

        Assert.Equal("mine\n", File.ReadAllText(route));
        Assert.False(File.Exists(Path.Combine(_dir, "kcp.yaml")));

        await using (var forced = KcpProcess.Start("init", _dir, "--force"))
            Assert.Equal(0, await forced.WaitForExitAsync(Patience));
        await using var validate = KcpProcess.Validate(Path.Combine(_dir, "kcp.yaml"));
        Assert.Equal(0, await validate.WaitForExitAsync(Patience));
    }

    [Theory]
    [InlineData("route")]
    [InlineData("main")]
    public async Task Schema_RouteOrMain_PrintsTheGeneratedSchema_Issue19(string which)
    {
        await using var kcp = KcpProcess.Start("schema", which);

        Assert.Equal(0, await kcp.WaitForExitAsync(Patience));
        Assert.Equal((which == "route" ? ConfigSchema.Route() : ConfigSchema.MainFile()).TrimEnd('\n'), string.Join('\n', kcp.StdOut));
    }

    [Fact]
    public async Task Schema_UnknownFile_Exit2()
    {
        await using var kcp = KcpProcess.Start("schema", "routes");

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.Empty(kcp.StdOut);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
