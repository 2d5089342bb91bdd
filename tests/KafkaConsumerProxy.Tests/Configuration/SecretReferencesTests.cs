using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary><c>${env:NAME}</c> and <c>${file:/path}</c> references, and a planted secret that must never be shown.</summary>
public sealed class SecretReferencesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void EnvAndFile_ResolvedAtLoad_Issue11()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var name = "KCP_TEST_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "env-token-value");
        try
        {
            var dir = Path.GetDirectoryName(config.ConfigFile)!;
            File.WriteAllText(Path.Combine(dir, "pw.txt"), "file-password\n");
            var route = config.AddRoute("a", "orders", "billing", 8080);
            File.AppendAllText(route, $"auth: {{type: bearer, token: '${{env:{name}}}'}}\n");
            var other = config.AddRoute("b", "orders", "billing2", 8080);
            File.AppendAllText(other, "auth: {type: basic, username: kcp, password: '${file:../pw.txt}'}\n");

            var loaded = ConfigLoader.Load(config.ConfigFile);

            Assert.Equal("env-token-value", loaded.Routes.Single(r => r.Name == "a").Endpoint.Auth!.Token);
            Assert.Equal("file-password", loaded.Routes.Single(r => r.Name == "b").Endpoint.Auth!.Password);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void MissingVariableAndFile_ErrorNamesKeyAndReference_Issue11()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var route = config.AddRoute("a", "orders", "billing", 8080);
        File.AppendAllText(route, "auth: {type: bearer, token: '${env:KCP_TEST_NOT_SET_11}'}\nheaders: {X-Note: '${file:/nonexistent/kcp-11}', X-Other: '${vault:x}'}\n");

        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);

        Assert.Null(loaded);
        Assert.Equal(
        [
            new ConfigError(route, "auth.token", null, "refers to the environment variable 'KCP_TEST_NOT_SET_11' (${env:KCP_TEST_NOT_SET_11}), which is not set or empty"),
            new ConfigError(route, "headers.X-Note", null, "refers to the file /nonexistent/kcp-11 (${file:/nonexistent/kcp-11}), which does not exist"),
            new ConfigError(route, "headers.X-Other", null, "is a reference of an unknown kind: write ${env:NAME} or ${file:/path}, or $${ for a literal ${"),
        ], errors.Take(3));
    }

    [Fact]
    public void ReferencesInsideValues_ResolvedLikeWholeValues_Issue23()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var name = "KCP_TEST_PART_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "part-token-4711");
        try
        {
            File.WriteAllText(Path.Combine(config.Directory, "user.txt"), "svc\n");
            var route = config.AddRoute("a", "orders", "billing", 8080);
            File.AppendAllText(route, $"headers: {{X-Api: 'Key ${{env:{name}}}/${{file:../user.txt}}', X-Literal: 'a $${{env:{name}}} b $5'}}\n");

            var loaded = ConfigLoader.Load(config.ConfigFile);

            var headers = loaded.Routes.Single().Endpoint.Headers.ToDictionary(h => h.Key, h => h.Value);
            Assert.Equal("Key part-token-4711/svc", headers["X-Api"]);
            Assert.Equal($"a ${{env:{name}}} b $5", headers["X-Literal"]);
            Assert.Equal("key 'x' = '***': y", new ConfigError(route, "x", "part-token-4711", "y").ToString()[(route.Length + 2)..]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void ReferencesInsideValues_UnsetUnknownUnclosedOrInAKey_ErrorsNameKeyAndReference_Issue23()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var route = config.AddRoute("a", "orders", "billing", 8080);
        File.AppendAllText(route, "headers: {X-A: 'Bearer ${env:KCP_TEST_NOT_SET_23}', X-B: 'x ${vault:y} z', X-C: 'x ${env:OPEN', '${env:HOME}': v}\n");

        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);

        Assert.Null(loaded);
        Assert.Equal(
        [
            new ConfigError(route, "headers.X-A", null, "refers to the environment variable 'KCP_TEST_NOT_SET_23' (${env:KCP_TEST_NOT_SET_23}), which is not set or empty"),
            new ConfigError(route, "headers.X-B", null, "is a reference of an unknown kind: write ${env:NAME} or ${file:/path}, or $${ for a literal ${"),
            new ConfigError(route, "headers.X-C", null, "has '${' without a closing '}': write ${env:NAME} or ${file:/path}, or $${ for a literal ${"),
            new ConfigError(route, "headers.${env:HOME}", null, "is a key holding a reference; ${env:...} and ${file:...} are resolved in values only"),
        ], errors.Take(4));
    }

    [Fact]
    public async Task PlantedSecret_NeverInValidateOutput_Issue11()
    {
        const string Secret = "planted-SECRET-4711-zz";
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var dir = Path.GetDirectoryName(config.ConfigFile)!;
        File.WriteAllText(Path.Combine(dir, "token.txt"), Secret);
        var route = config.AddRoute("r", "orders", "billing", 8080);
        // The secret is referenced where it belongs, and pasted by mistake where values are shown.
        File.AppendAllText(route, $"auth: {{type: bearer, token: '${{file:../token.txt}}'}}\ndomain: '{Secret}/x'\nheaders: {{X-Note: \"{Secret}\\n\"}}\nscheme: '{Secret}'\n");

        await using var kcp = KcpProcess.Validate(config.ConfigFile);

        Assert.Equal(2, await kcp.WaitForExitAsync(Patience));
        Assert.True(kcp.StdErr.Count >= 4, string.Join("\n", kcp.StdErr));
        Assert.All(kcp.Output, line => Assert.DoesNotContain(Secret, line, StringComparison.Ordinal));
        Assert.Contains(kcp.StdErr, l => l.Contains("key 'domain' = '***/x'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlantedSecret_EchoedByTheEndpoint_NotInTheFailureReason_Issue11()
    {
        const string Secret = "planted-SECRET-echo-0815";
        SecretRedactor.Register(Secret);
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync($"denied for Bearer {Secret}"));
        // Generous timeouts: the answer is what is checked, and a loaded machine may take seconds to give it.
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = endpoint.Port, ConnTimeoutMs = 30_000, ExecTimeoutMs = 30_000 } };
        using var http = new HttpDeliverer(route with { Endpoint = route.Endpoint with { Auth = new AuthSettings { Type = AuthType.Bearer, Token = Secret } } });

        var result = await http.SendAsync(new KafkaRecord("orders", 0, 1, 0, null, "v"u8.ToArray(), []), 0, 1);

        Assert.Equal(DeliveryOutcome.RejectedBody, result.Outcome);
        Assert.DoesNotContain(Secret, result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, result.Describe(), StringComparison.Ordinal);
        Assert.Contains("Bearer ***", result.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void PlantedSecret_InBodyBytes_MaskedForDeadLetterHeaders_Issue11()
    {
        const string Secret = "planted-SECRET-bytes-31";
        SecretRedactor.Register(Secret);

        var hidden = SecretRedactor.HideBytes(System.Text.Encoding.UTF8.GetBytes($"a {Secret} b {Secret}"));

        Assert.Equal("a *** b ***", System.Text.Encoding.UTF8.GetString(hidden));
    }

    [Fact]
    public async Task FileReferenceToAFifo_RefusedWithoutBlocking_Issue11()
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        var fifo = Path.Combine(Path.GetDirectoryName(config.ConfigFile)!, "secret.fifo");
        Assert.Equal(0, System.Diagnostics.Process.Start("mkfifo", fifo)!.WaitForExit(10_000) ? 0 : 1);
        var route = config.AddRoute("r", "orders", "billing", 8080);
        File.AppendAllText(route, $"auth: {{type: bearer, token: '${{file:{fifo}}}'}}\n");

        var load = Task.Run(() => ConfigLoader.TryLoad(config.ConfigFile));

        var (_, errors) = await load.WaitAsync(TimeSpan.FromSeconds(10));
        var error = Assert.Single(errors);
        Assert.Equal("auth.token", error.Key);
        Assert.StartsWith($"refers to the file {fifo} (${{file:{fifo}}}), which is a FIFO", error.Message, StringComparison.Ordinal);
    }
}
