using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// <c>endpoint</c> as one URL (or a list) instead of <c>host</c>, <c>port</c>, <c>url</c> and <c>scheme</c>, and the
/// defaults that let a route be written with three keys.
/// </summary>
public sealed class EndpointKeyTests : IDisposable
{
    private const string Main = "clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:9092\"\n";
    private readonly ConfigDirectory _dir = new("kcp-endpoint-");

    [Fact]
    public void ThreeKeyRoute_TopicGroupEndpoint_LoadsWithTheDeclaredDefaults_Issue19()
    {
        var route = _dir.Load(Main, "topic: orders\ngroup: billing\nendpoint: http://10.0.0.5:8080/consume\n").Routes.Single();

        Assert.Equal(["10.0.0.5"], route.Endpoint.Hosts);
        Assert.Equal((8080, "/consume", EndpointScheme.Http), (route.Endpoint.Port, route.Endpoint.Url, route.Endpoint.Tls.Scheme));
        Assert.Equal((1, false, 3, 1000), (route.Concurrency, route.Retry.CanSkip, route.Retry.RetryNums, route.Retry.RetryIntervalMs));
        Assert.Equal((3000, 10_000, 0), (route.Endpoint.ConnTimeoutMs, route.Endpoint.ExecTimeoutMs, route.Offsets.UseSavedOffsetTime));
        Assert.Equal(ResponseCheck.Errno, route.Endpoint.ResponseCheck);
        Assert.Equal([new Uri("http://10.0.0.5:8080/consume")], route.Endpoint.Targets());
    }

    [Theory]
    [InlineData("https://api.example.com", "api.example.com", 443, "/", true)]
    [InlineData("http://api.example.com/hook/orders", "api.example.com", 80, "/hook/orders", false)]
    [InlineData("HTTP://[::1]:9000/x", "[::1]", 9000, "/x", false)]
    public void Endpoint_OneUrl_SplitIntoSchemeHostPortAndPath_Issue19(string url, string host, int port, string path, bool https)
    {
        var route = _dir.Load(Main, $"topic: orders\ngroup: billing\nendpoint: \"{url}\"\n").Routes.Single();

        Assert.Equal((host, port, path, https), (route.Endpoint.Hosts.Single(), route.Endpoint.Port, route.Endpoint.Url, route.Endpoint.Tls.Enabled));
    }

    [Fact]
    public void Endpoint_ListOfUrls_SeveralHostsOfOneEndpoint_Issue19()
    {
        var route = _dir.Load(Main, "topic: orders\ngroup: billing\nendpoint:\n  - http://10.0.0.5:8080/consume\n  - http://10.0.0.6:8080/consume\n").Routes.Single();

        Assert.Equal(["10.0.0.5", "10.0.0.6"], route.Endpoint.Hosts);
        Assert.Equal(8080, route.Endpoint.Port);
    }

    [Fact]
    public void HostKeys_NoPortWithHttps_Port443_Issue19()
    {
        var route = _dir.Load(Main, "topic: orders\ngroup: billing\nhost: api.example.com\nscheme: https\n").Routes.Single();

        Assert.Equal((443, "/"), (route.Endpoint.Port, route.Endpoint.Url));
    }

    [Fact]
    public void Endpoint_WithHostPortUrlOrScheme_EachRefusedWithFileKeyAndValue_Issue19()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: orders\ngroup: billing\nendpoint: http://10.0.0.5:8080/consume\nhost: 10.0.0.6\nport: 9090\n");

        var errors = _dir.Errors();

        Assert.All(errors, e => Assert.Equal(_dir.RouteFile, e.File));
        Assert.Equal(
            [
                "key 'host' = '10.0.0.6': cannot be used together with 'endpoint', which holds the scheme, host, port and path; write either endpoint or host, port, url and scheme",
                "key 'port' = '9090': cannot be used together with 'endpoint', which holds the scheme, host, port and path; write either endpoint or host, port, url and scheme",
            ],
            errors.Select(ConfigDirectory.Describe));
    }

    [Theory]
    [InlineData("endpoint: 10.0.0.5:8080/consume", "'10.0.0.5:8080/consume': must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume")]
    [InlineData("endpoint: ftp://10.0.0.5/x", "'ftp://10.0.0.5/x': must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume; 'ftp' is not http or https")]
    [InlineData("endpoint: http://10.0.0.5:99999/x", "'http://10.0.0.5:99999/x': has port '99999'; a port must be an integer from 1 to 65535")]
    [InlineData("endpoint: http://u:p@10.0.0.5/x", "'http://u:p@10.0.0.5/x': must not hold user information ('user:password@'); use auth for credentials")]
    [InlineData("endpoint: http://10.0.0.5/x?src=kafka", "'http://10.0.0.5/x?src=kafka': has the path '/x?src=kafka', which must be a path without query ('?') or fragment ('#'): the path is sent as written and '?' or '#' would be percent-encoded into it")]
    [InlineData("endpoint: [http://a:80/x, http://b:81/x]", "'http://b:81/x': must have the same scheme, port and path as the first URL of the list (http, port 80, path /x): the URLs of one endpoint differ only in their host")]
    [InlineData("endpoint: {url: http://a/x}", "must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume, or a list of such URLs that differ only in their host, got a mapping")]
    public void Endpoint_Invalid_RefusedNamingTheUrl_Issue19(string line, string expected)
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", $"topic: orders\ngroup: billing\n{line}\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal("endpoint", error.Key);
        Assert.EndsWith(expected, ConfigDirectory.Describe(error), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("host:\nendpoint: ~\n")]
    public void Route_NeitherEndpointNorHost_RequiredKeyMissing_Issue19(string emptyKeys)
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: orders\ngroup: billing\n" + emptyKeys);

        var error = Assert.Single(_dir.Errors());

        Assert.Equal("key 'endpoint': required key is missing; must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume, or a list of such URLs that differ only in their host (or host, with port and url)",
            ConfigDirectory.Describe(error));
    }

    [Fact]
    public void SeedRouteFile_AllTenOldKeys_LoadsUnchanged_Issue19()
    {
        var route = _dir.Load(Main, ConfigDirectory.RequiredRouteKeys).Routes.Single();

        Assert.Equal((2, true, 3, 100, 1000, 5000), (route.Concurrency, route.Retry.CanSkip, route.Retry.RetryNums, route.Retry.RetryIntervalMs, route.Endpoint.ConnTimeoutMs, route.Endpoint.ExecTimeoutMs));
        Assert.Equal([new Uri("http://10.0.0.5:8080/inner/orders")], route.Endpoint.Targets());
    }

    public void Dispose() => _dir.Dispose();
}
