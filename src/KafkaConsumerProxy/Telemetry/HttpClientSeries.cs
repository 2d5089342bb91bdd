using OpenTelemetry.Metrics;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// Which of the runtime's <c>http.client.*</c> series (meter <c>System.Net.Http</c>) kcp exports, on <c>/metrics</c> and
/// over OTLP alike. The two connection pool series that move on every request are left out unless asked for
/// (<c>telemetry.http_connection_metrics</c>): <c>http.client.open_connections</c> is added to four times per request (a
/// connection leaves the idle state and returns to it) and <c>http.client.active_requests</c> twice, each a lookup of six
/// attributes in the aggregator, which together cost some 3–5 µs of kcp's CPU per message (docs/PERFORMANCE-LAB.md,
/// "Fix 9"). A series that is dropped is not listened to, so the runtime does not record it at all.
/// </summary>
internal static class HttpClientSeries
{
    /// <summary>The series that are exported only with <c>telemetry.http_connection_metrics: true</c>.</summary>
    public static IReadOnlyList<string> PerRequestPoolSeries { get; } = ["http.client.open_connections", "http.client.active_requests"];

    /// <summary>Listens to the runtime's HTTP client meter, without <see cref="PerRequestPoolSeries"/> unless <paramref name="connectionSeries"/>.</summary>
    public static MeterProviderBuilder AddHttpClientSeries(this MeterProviderBuilder builder, bool connectionSeries)
    {
        builder.AddMeter(ProxyMetrics.HttpClientMeterName);
        if (!connectionSeries)
        {
            foreach (var name in PerRequestPoolSeries)
            {
                builder.AddView(name, MetricStreamConfiguration.Drop);
            }
        }

        return builder;
    }
}
