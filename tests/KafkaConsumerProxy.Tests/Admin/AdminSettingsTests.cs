using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>The <c>admin</c> section of kcp.yaml as the loader reads and checks it.</summary>
public sealed class AdminSettingsTests
{
    private static (KcpConfig? Config, string Errors) Load(string? adminSection, Action<ProxyConfigWriter>? prepare = null)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 1);
        var text = File.ReadAllText(config.ConfigFile);
        var cut = text.IndexOf("admin:", StringComparison.Ordinal);
        File.WriteAllText(config.ConfigFile, text[..cut] + (adminSection ?? ""));
        prepare?.Invoke(config);
        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);
        return (loaded, string.Join('\n', errors));
    }

    [Fact]
    public void AdminSection_DefaultsOffAndTokens_Issue9()
    {
        var (config, errors) = Load(null);
        Assert.True(config is not null, errors);
        Assert.Equal("127.0.0.1:9464", config.Admin.Listen!.ToString());
        Assert.False(config.Admin.HasToken);

        (config, errors) = Load("admin:\n  listen: off\n");
        Assert.True(config is not null, errors);
        Assert.Null(config.Admin.Listen);

        (config, errors) = Load("admin:\n  listen: \"0.0.0.0:9464\"\n  token_file: tok\n", c => File.WriteAllText(Path.Combine(c.Directory, "tok"), "a-long-enough-token-value\n"));
        Assert.True(config is not null, errors);
        Assert.True(config.Admin.HasToken);
        Assert.DoesNotContain("a-long-enough-token-value", config.Admin.ToString(), StringComparison.Ordinal);

        (config, errors) = Load("admin:\n  listen: \"[::1]:0\"\n");
        Assert.True(config is not null, errors);
    }

    [Fact]
    public async Task TokenFileThatIsAFifo_RefusedWithoutBlocking()
    {
        var (config, errors) = await Task.Run(() => Load("admin:\n  token_file: tok\n", c => Configuration.ConfigLoaderTests.MakeFifo(Path.Combine(c.Directory, "tok"))))
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Null(config);
        Assert.Contains("is a FIFO (named pipe), not a regular file; a token file must be a regular file", errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("admin:\n  token_file: missing\n", null, "token file not found")]
    [InlineData("admin:\n  token_file: tok\n", "short", "at least 16 characters")]
    [InlineData("admin:\n  listen: \"10.1.2.3:9464\"\n", null, "not a loopback address")]
    [InlineData("admin:\n  listen: \"localhost:9464\"\n", null, "must be an IP address and port")]
    [InlineData("admin:\n  listen: \"127.0.0.1:70000\"\n", null, "must be an IP address and port")]
    [InlineData("admin:\n  lisen: off\n", null, "did you mean 'listen'")]
    public void AdminSection_Refused_Issue9(string section, string? token, string expected)
    {
        var (config, errors) = Load(section, c =>
        {
            if (token is not null)
            {
                File.WriteAllText(Path.Combine(c.Directory, "tok"), token);
            }
        });
        Assert.Null(config);
        Assert.Contains(expected, errors, StringComparison.Ordinal);
        Assert.Contains("admin.", errors, StringComparison.Ordinal);
    }
}
