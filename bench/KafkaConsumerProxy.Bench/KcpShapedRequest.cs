using System.Buffers;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// The HttpClient loop's request as kcp sends it, for <c>ceiling-http --kcp-request</c>: built by kcp's own
/// <see cref="RequestBuilder"/> for the benchmark's route (form body, Idempotency-Key and the X-Kafka-* headers), the
/// answer's headers awaited and its body read into a pooled buffer (as kcp's HttpDeliverer does), and the runtime's
/// <c>http.client.*</c> series kcp exports (<see cref="HttpClientSeries"/>), aggregated by OpenTelemetry. What the loop
/// then costs per request is what the HTTP client costs for kcp's request; kcp's CPU per message beyond it is kcp's own
/// path (consuming, dispatch, retries' bookkeeping, offsets, its own metrics).
/// </summary>
internal sealed class KcpShapedRequest : IDisposable
{
    private const string Topic = "bench";
    private readonly RequestBuilder _requests;
    private readonly Uri _target;
    private readonly byte[] _value;
    private readonly MeterProvider _meters;

    /// <param name="url">The receiver's URL: the benchmark's route is written for it and loaded by kcp's config loader.</param>
    /// <param name="value">Every message's value.</param>
    public KcpShapedRequest(Uri url, byte[] value)
    {
        var directory = Directory.CreateTempSubdirectory("kcp-bench-request-");
        try
        {
            var config = BenchConfig.Write(directory.FullName, "127.0.0.1:9092", new Dictionary<string, string>(), Topic, "bench", url.Port, url.AbsolutePath, new Dictionary<string, object>());
            var route = ConfigLoader.Load(config).Routes.Single();
            _requests = new RequestBuilder(route);
            _target = route.Endpoint.Targets()[0];
        }
        finally
        {
            directory.Delete(recursive: true);
        }

        _value = value;
        // The series kcp exports by default, listened to as its /metrics does.
        _meters = Sdk.CreateMeterProviderBuilder()
            .AddHttpClientSeries(connectionSeries: false)
            .AddReader(new PeriodicExportingMetricReader(new NoExport(), exportIntervalMilliseconds: 10_000))
            .Build();
    }

    /// <summary>One request as kcp's attempt 1 of the message at <paramref name="offset"/>; true on a 2xx answer.</summary>
    public async Task<bool> SendAsync(HttpClient client, long offset, CancellationToken stop)
    {
        var record = new KafkaRecord(Topic, (int)(offset & 7), offset, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, _value);
        using var request = _requests.Build(_target, record);
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

    public void Dispose() => _meters.Dispose();

    private sealed class NoExport : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch) => ExportResult.Success;
    }
}
