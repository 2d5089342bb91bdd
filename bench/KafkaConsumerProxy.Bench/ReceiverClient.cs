using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KafkaConsumerProxy.Bench;

/// <summary>The orchestrator's side of the receiver process: start it, read its counters, reset them.</summary>
internal sealed class ReceiverClient : IReceiver, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly HttpClient _http;

    private ReceiverClient(ChildProcess process, Uri baseAddress)
    {
        Process = process;
        BaseAddress = baseAddress;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Kind => "kestrel";

    public ChildProcess Process { get; }

    public Uri BaseAddress { get; }

    /// <summary>Starts the published receiver and waits until it listens.</summary>
    public static async Task<ReceiverClient> StartAsync(string receiverExecutable, int slowDelayMs)
    {
        var process = ChildProcess.Start("receiver", receiverExecutable,
            ["--port", "0", "--slow-delay-ms", slowDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture), "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var address = new Uri(line["listening ".Length..].Trim().TrimEnd('/') + "/");
            return new ReceiverClient(process, address);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    public async Task<ReceiverStats> StatsAsync() =>
        await _http.GetFromJsonAsync<ReceiverStats>(new Uri("stats", UriKind.Relative), Json).ConfigureAwait(false)
            ?? throw new InvalidOperationException("receiver returned no stats");

    public async Task<LatencyStats> LatencyAsync() =>
        await _http.GetFromJsonAsync<LatencyStats>(new Uri("latency", UriKind.Relative), Json).ConfigureAwait(false)
            ?? throw new InvalidOperationException("receiver returned no latency figures");

    public async Task ResetAsync()
    {
        using var response = await _http.PostAsync(new Uri("reset", UriKind.Relative), null).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    public void Dispose()
    {
        _http.Dispose();
        Process.Dispose();
    }
}

/// <summary>
/// The receiver's <c>GET /stats</c>: arrival times are Unix ms with sub-ms precision, 0 before the first message;
/// <paramref name="MaxInFlight"/> is the most requests it had open at once.
/// </summary>
internal sealed record ReceiverStats(long Messages, long Requests, double FirstArrivalUnixMs, double LastArrivalUnixMs, int MaxInFlight)
{
    /// <summary>Messages per second from the first to the last arrival.</summary>
    public double Rate => LastArrivalUnixMs > FirstArrivalUnixMs ? Messages / ((LastArrivalUnixMs - FirstArrivalUnixMs) / 1000) : double.NaN;

    /// <summary>Requests per second from the first to the last arrival.</summary>
    public double RequestRate => LastArrivalUnixMs > FirstArrivalUnixMs ? Requests / ((LastArrivalUnixMs - FirstArrivalUnixMs) / 1000) : double.NaN;

    public double Seconds => (LastArrivalUnixMs - FirstArrivalUnixMs) / 1000;
}

/// <summary>The receiver's <c>GET /latency</c>: produce-to-arrival milliseconds.</summary>
internal sealed record LatencyStats(int Samples, double P50Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);
