using System.Buffers;
using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// The HttpClient loop's request shaped as kcp sends a form message, for <c>ceiling-http --kcp-request</c>: the same
/// headers (Idempotency-Key and the X-Kafka-* of kcp's RequestBuilder), the answer's headers awaited and its body read
/// into a pooled buffer (kcp's HttpDeliverer), and the runtime's <c>http.client.*</c> instruments kcp's <c>/metrics</c>
/// exports, aggregated by OpenTelemetry. What the loop then costs per request is what the HTTP client
/// costs for kcp's request; kcp's CPU per message beyond it is kcp's own path (consuming, dispatch, retries' bookkeeping,
/// offsets, its own metrics).
/// </summary>
internal static class KcpShapedRequest
{
    private const string Topic = "bench";

    /// <summary>
    /// An OpenTelemetry meter provider over the runtime's <c>System.Net.Http</c> meter, exporting nowhere, with the series
    /// kcp exports by default (not the two per-request pool series: kcp's Telemetry/HttpClientSeries).
    /// </summary>
    public static MeterProvider HttpClientMetrics() =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter("System.Net.Http")
            .AddView("http.client.open_connections", MetricStreamConfiguration.Drop)
            .AddView("http.client.active_requests", MetricStreamConfiguration.Drop)
            .AddReader(new PeriodicExportingMetricReader(new NoExport(), exportIntervalMilliseconds: 10_000))
            .Build();

    /// <summary>One request as kcp's attempt 1 of a form message at <paramref name="offset"/>; true on a 2xx answer.</summary>
    public static async Task<bool> SendAsync(HttpClient client, Uri url, byte[] body, long offset, CancellationToken stop)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/x-www-form-urlencoded");
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        var partition = (offset & 7).ToString(CultureInfo.InvariantCulture);
        var at = offset.ToString(CultureInfo.InvariantCulture);
        var headers = request.Headers;
        headers.TryAddWithoutValidation("Idempotency-Key", string.Concat(Topic, "/", partition, "/", at));
        headers.TryAddWithoutValidation("X-Kafka-Topic", Topic);
        headers.TryAddWithoutValidation("X-Kafka-Partition", partition);
        headers.TryAddWithoutValidation("X-Kafka-Offset", at);
        headers.TryAddWithoutValidation("X-Kafka-Timestamp", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        headers.TryAddWithoutValidation("X-Kafka-Delivery-Attempt", "1");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(512);
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(stop).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                while (await stream.ReadAsync(buffer, stop).ConfigureAwait(false) > 0)
                {
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return response.IsSuccessStatusCode;
    }

    private sealed class NoExport : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch) => ExportResult.Success;
    }
}
