using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>The <c>telemetry</c> section of kcp.yaml as the loader reads and checks it.</summary>
public sealed class OtlpConfigTests
{
    private static (KcpConfig? Config, IReadOnlyList<ConfigError> Errors, string File) Load(string? telemetrySection)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:1");
        config.AddRoute("a", "orders", "billing", 8080);
        if (telemetrySection is not null)
            config.AppendMain(telemetrySection);
        var (loaded, errors) = ConfigLoader.TryLoad(config.ConfigFile);
        return (loaded, errors, config.ConfigFile);
    }

    [Fact]
    public void NoSection_ExportOff_Issue11()
    {
        var (config, errors, _) = Load(null);

        Assert.Empty(errors);
        Assert.False(config!.Telemetry.Enabled);
        Assert.Equal("telemetry off", config.Telemetry.ToString());
    }

    [Fact]
    public void EndpointOnly_Defaults_Issue11()
    {
        var (config, errors, _) = Load("telemetry:\n  otlp_endpoint: http://otel-collector:4318\n");

        Assert.Empty(errors);
        var telemetry = config!.Telemetry;
        Assert.Equal(new Uri("http://otel-collector:4318"), telemetry.OtlpEndpoint);
        Assert.Equal((OtlpProtocol.HttpProtobuf, "kcp", 15_000), (telemetry.Protocol, telemetry.ServiceName, telemetry.ExportIntervalMs));
        Assert.Empty(telemetry.HeaderNames);
        Assert.Equal("OTLP http/protobuf to http://otel-collector:4318/ as service 'kcp', metrics every 15000 ms", telemetry.ToString());
    }

    [Fact]
    public void AllKeys_Read_Issue11()
    {
        var (config, errors, _) = Load("telemetry:\n  otlp_endpoint: https://otel.example.com:4317\n  otlp_protocol: grpc\n  service_name: orders-kcp\n"
            + "  otlp_export_interval_ms: 60000\n  otlp_headers:\n    x-api-key: \"k3y-Value=+/\"\n");

        Assert.Empty(errors);
        var telemetry = config!.Telemetry;
        Assert.Equal((OtlpProtocol.Grpc, "orders-kcp", 60_000), (telemetry.Protocol, telemetry.ServiceName, telemetry.ExportIntervalMs));
        Assert.Equal(["x-api-key"], telemetry.HeaderNames);
        Assert.Equal("OTLP grpc to https://otel.example.com:4317/ as service 'orders-kcp', metrics every 60000 ms, headers x-api-key", telemetry.ToString());
    }

    [Theory]
    // Header values become secrets of the whole test process (masked wherever they appear): each one here is unique.
    [InlineData("otlp_endpoint: otel-collector:4318", "telemetry.otlp_endpoint", "must be an absolute http:// or https:// URL")]
    [InlineData("otlp_endpoint: ftp://otel-collector:4318", "telemetry.otlp_endpoint", "must be an absolute http:// or https:// URL")]
    [InlineData("otlp_endpoint: \"http://otel collector:4318\"", "telemetry.otlp_endpoint", "must be an absolute http:// or https:// URL")]
    [InlineData("otlp_endpoint: http://user:pw@otel-collector:4318", "telemetry.otlp_endpoint", "must not carry user information")]
    [InlineData("otlp_endpoint: http://otel-collector:4318/?a=b", "telemetry.otlp_endpoint", "must not have a query")]
    [InlineData("otlp_endpoint: http://otel-collector:4317/v1\n  otlp_protocol: grpc", "telemetry.otlp_endpoint", "with otlp_protocol: grpc the endpoint is the collector's address only")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_protocol: http/json", "telemetry.otlp_protocol", "must be one of: http/protobuf, grpc")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_export_interval_ms: 999", "telemetry.otlp_export_interval_ms", "must be an integer from 1000 to 600000")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_export_interval_ms: 600001", "telemetry.otlp_export_interval_ms", "must be an integer from 1000 to 600000")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_export_interval_ms: soon", "telemetry.otlp_export_interval_ms", "must be an integer from 1000 to 600000")]
    [InlineData("otlp_endpoint: http://c:4318\n  service_name: \" kcp\"", "telemetry.service_name", "without control characters or surrounding spaces")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: {Content-Type: otlp-test-value-1}", "telemetry.otlp_headers.Content-Type", "cannot be replaced")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: {\"bad name\": otlp-test-value-2}", "telemetry.otlp_headers.bad name", "must be a header name")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: {x%41: otlp-test-value-3}", "telemetry.otlp_headers.x%41", "must be a header name")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: {x-key: \"\"}", "telemetry.otlp_headers.x-key", "must be a non-empty string")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: {x-key: \"otlp-test,value-4\"}", "telemetry.otlp_headers.x-key", "must be printable ASCII without ','")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_headers: [a]", "telemetry.otlp_headers", "must be a mapping of header names to values")]
    [InlineData("otlp_endpoint: http://c:4318\n  otlp_endpont: http://c:4318", "telemetry.otlp_endpont", "did you mean 'otlp_endpoint'?")]
    [InlineData("otlp_protocol: grpc", "telemetry.otlp_protocol", "applies only with telemetry.otlp_endpoint")]
    public void BadValue_ErrorNamesFileKeyValueAndWhatIsAllowed_Issue11(string yaml, string key, string message)
    {
        var (config, errors, file) = Load("telemetry:\n  " + yaml + "\n");

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal((file, key), (error.File, error.Key));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        if (key is "telemetry.otlp_endpoint" or "telemetry.otlp_export_interval_ms")
            Assert.NotNull(error.Value);
    }

    [Fact]
    public void HttpConnectionMetrics_OffByDefault_AppliesWithOrWithoutEndpoint_IsPartOfTheSettings_Issue22()
    {
        Assert.False(Load(null).Config!.Telemetry.HttpConnectionMetrics);
        Assert.False(Load("telemetry:\n  otlp_endpoint: http://c:4318\n").Config!.Telemetry.HttpConnectionMetrics);

        var (alone, aloneErrors, _) = Load("telemetry:\n  http_connection_metrics: true\n");
        Assert.Empty(aloneErrors);
        Assert.True(alone!.Telemetry.HttpConnectionMetrics);
        Assert.False(alone.Telemetry.Enabled);
        Assert.Equal("telemetry off, with the HTTP client's connection pool series", alone.Telemetry.ToString());

        var (withEndpoint, errors, _) = Load("telemetry:\n  otlp_endpoint: http://c:4318\n  http_connection_metrics: true\n");
        Assert.Empty(errors);
        Assert.True(withEndpoint!.Telemetry.HttpConnectionMetrics);
        // A change of it is a change of the section (which a reload reports as needing a restart).
        Assert.False(withEndpoint.Telemetry.SameAs(Load("telemetry:\n  otlp_endpoint: http://c:4318\n").Config!.Telemetry));
    }

    [Theory]
    [InlineData("http_connection_metrics: yes please")]
    [InlineData("http_connection_metrics: 1")]
    [InlineData("http_connection_metrics: [true]")]
    public void HttpConnectionMetrics_NotABoolean_ErrorNamesFileKeyValue_Issue22(string yaml)
    {
        var (config, errors, file) = Load("telemetry:\n  " + yaml + "\n");

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal((file, "telemetry.http_connection_metrics"), (error.File, error.Key));
        Assert.Contains("true or false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NotAMapping_Refused_Issue11()
    {
        var (config, errors, _) = Load("telemetry: http://c:4318\n");

        Assert.Null(config);
        Assert.Equal("telemetry", Assert.Single(errors).Key);
    }

    [Fact]
    public void HeaderValues_NeverShownInErrorsOrSettings_Issue11()
    {
        const string Secret = "planted-otlp-secret-7f3a";
        var (config, errors, _) = Load($"telemetry:\n  otlp_endpoint: http://c:4318\n  otlp_headers:\n    Authorization: \"Bearer {Secret}\"\n    x-bad: \"{Secret}\\tother\"\n");

        Assert.Null(config);
        var error = Assert.Single(errors);
        Assert.Equal("telemetry.otlp_headers.x-bad", error.Key);
        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
        // Registered as secrets at load, even the value that was refused: masked wherever kcp writes text.
        Assert.Equal($"sent {SecretRedactor.Mask} and {SecretRedactor.Mask}", SecretRedactor.Hide($"sent Bearer {Secret} and {Secret}\tother"));

        (config, errors, _) = Load($"telemetry:\n  otlp_endpoint: http://c:4318\n  otlp_headers:\n    Authorization: \"Bearer {Secret}\"\n");
        Assert.Empty(errors);
        Assert.DoesNotContain(Secret, config!.Telemetry.ToString(), StringComparison.Ordinal);
        Assert.Contains("headers Authorization", config.Telemetry.ToString(), StringComparison.Ordinal);

        // A reload that changes only a header value says so, without the value.
        var (changed, _, _) = Load($"telemetry:\n  otlp_endpoint: http://c:4318\n  otlp_headers:\n    Authorization: \"Bearer other-{Secret}\"\n");
        Assert.False(changed!.Telemetry.SameAs(config.Telemetry));
        Assert.Equal(config.Telemetry + " (otlp_headers values changed)", changed.Telemetry.DescribeChangeFrom(config.Telemetry));
        Assert.Equal(config.Telemetry.ToString(), config.Telemetry.DescribeChangeFrom(config.Telemetry));
    }

    [Fact]
    public void EndpointFromEnvironment_ResolvedAndMaskedInMessages_Issue11()
    {
        var name = "KCP_TEST_OTLP_" + Guid.NewGuid().ToString("N");
        var endpoint = "https://ingest-" + Guid.NewGuid().ToString("N")[..12] + ".example.com";
        Environment.SetEnvironmentVariable(name, endpoint);
        try
        {
            var (config, errors, _) = Load($"telemetry:\n  otlp_endpoint: \"${{env:{name}}}\"\n");

            Assert.Empty(errors);
            Assert.Equal(new Uri(endpoint), config!.Telemetry.OtlpEndpoint);
            Assert.DoesNotContain(endpoint, config.Telemetry.ToString(), StringComparison.Ordinal);

            Environment.SetEnvironmentVariable(name, endpoint + "/?x=1");
            (config, errors, _) = Load($"telemetry:\n  otlp_endpoint: \"${{env:{name}}}\"\n");
            Assert.Null(config);
            var error = Assert.Single(errors);
            Assert.Equal("telemetry.otlp_endpoint", error.Key);
            Assert.DoesNotContain(endpoint, error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }
}
