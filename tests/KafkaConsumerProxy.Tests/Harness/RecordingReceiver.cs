using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A real HTTP endpoint (Kestrel on 127.0.0.1, ephemeral port) that records every request and
/// answers each one as its <see cref="Script"/> says: normally, or with a scripted <see cref="Fault"/>.
/// </summary>
/// <remarks>
/// Any method on any path is accepted. A request is recorded, with the fault chosen for it, before
/// its answer is sent, so a waiter can see a request whose delayed answer is still pending.
/// </remarks>
public sealed class RecordingReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly long _startedAt;

    /// <summary>Now on the clock of <see cref="ReceivedRequest.ArrivedAt"/>.</summary>
    public TimeSpan Now => _time.GetElapsedTime(_startedAt);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<ReceivedRequest> _requests = [];
    private TaskCompletionSource _changed = NewSignal();
    private Func<ReceivedRequest, Fault> _script;
    private int _sequence = -1;

    private RecordingReceiver(WebApplication app, Func<ReceivedRequest, Fault>? script, TimeProvider time)
    {
        _app = app;
        _time = time;
        _startedAt = time.GetTimestamp();
        _script = script ?? FaultScript.Always(Fault.None);
        app.Run(HandleAsync);
    }

    /// <summary>Root URL of the receiver, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The bound port.</summary>
    public int Port => BaseAddress.Port;

    /// <summary>Picks the answer for each request; may be replaced at any time, and is called concurrently.</summary>
    public Func<ReceivedRequest, Fault> Script
    {
        get => Volatile.Read(ref _script);
        set => Volatile.Write(ref _script, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>A snapshot of the requests recorded so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Starts a receiver; with no <paramref name="script"/> it answers every request normally.</summary>
    /// <param name="script">Picks each request's answer, see <see cref="FaultScript"/>.</param>
    /// <param name="timeProvider">Clock for <see cref="ReceivedRequest.ArrivedAt"/> and fault delays; system clock by default.</param>
    public static async Task<RecordingReceiver> StartAsync(
        Func<ReceivedRequest, Fault>? script = null, TimeProvider? timeProvider = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // Delayed answers are cut short on dispose anyway; this only bounds a stuck connection.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));

        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        var receiver = new RecordingReceiver(app, script, timeProvider ?? TimeProvider.System);
        await app.StartAsync();

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()
            ?? throw new InvalidOperationException("Kestrel exposes no IServerAddressesFeature.");
        var address = addresses.Addresses.Single();
        receiver.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return receiver;
    }

    /// <summary>The absolute URL of <paramref name="path"/> on this receiver.</summary>
    public Uri Url(string path) => new(BaseAddress, path.TrimStart('/'));

    /// <summary>
    /// Completes once <paramref name="condition"/> holds for the recorded requests; re-checked on every
    /// new request, so there is no polling delay.
    /// </summary>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="timeout"/>; the message lists the requests seen.</exception>
    public async Task WaitForAsync(Func<IReadOnlyList<ReceivedRequest>, bool> condition, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            IReadOnlyList<ReceivedRequest> snapshot;
            Task changed;
            lock (_gate)
            {
                snapshot = [.. _requests];
                changed = _changed.Task;
            }

            if (condition(snapshot))
            {
                return;
            }

            var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException(Describe(timeout, snapshot));
            }

            try
            {
                await changed.WaitAsync(remaining, _time);
            }
            catch (TimeoutException)
            {
                // Loop once more: the condition gets a last look before giving up.
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests were recorded.</summary>
    public Task WaitForCountAsync(int count, TimeSpan timeout) => WaitForAsync(r => r.Count >= count, timeout);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrivedAt = _time.GetElapsedTime(_startedAt);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var request = await ReadAsync(context, arrivedAt, aborted.Token);

        Fault fault;
        try
        {
            fault = Script(request);
        }
#pragma warning disable CA1031 // A throwing script must still show up in the recording, not just as a bare 500.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            fault = Fault.Status(500) with { Body = $"fault script threw: {ex}" };
        }

        Record(request with { Fault = fault });

        if (fault.Delay > TimeSpan.Zero || fault.Release is not null)
        {
            try
            {
                if (fault.Delay > TimeSpan.Zero)
                {
                    await Task.Delay(fault.Delay, _time, aborted.Token);
                }

                if (fault.Release is { } release)
                {
                    await release.WaitAsync(aborted.Token);
                }
            }
            catch (OperationCanceledException)
            {
                // The client gave up or the receiver is stopping: nobody is left to answer.
                return;
            }
        }

        if (fault.Kind == FaultKind.Abort)
        {
            context.Abort();
            return;
        }

        context.Response.StatusCode = fault.StatusCode;
        context.Response.ContentType = fault.ContentType;
        foreach (var (name, value) in fault.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(fault.Body), aborted.Token);
    }

    private async Task<ReceivedRequest> ReadAsync(HttpContext context, TimeSpan arrivedAt, CancellationToken cancellationToken)
    {
        var http = context.Request;
        using var buffer = new MemoryStream();
        await http.Body.CopyToAsync(buffer, cancellationToken);
        var body = buffer.ToArray();

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in http.Headers)
        {
            headers[name] = values.ToString();
        }

        var form = http.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true
            ? ReceivedRequest.DecodeForm(body)
            : [];
        var request = new ReceivedRequest
        {
            Sequence = Interlocked.Increment(ref _sequence),
            ArrivedAt = arrivedAt,
            Method = http.Method,
            Path = http.Path.Value ?? "/",
            Query = http.QueryString.Value ?? "",
            Headers = headers,
            Body = body,
            Form = form,
        };
        return request with
        {
            Partition = int.TryParse(request.Header("X-Kafka-Partition") ?? request.FormValue("p"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : null,
            Offset = long.TryParse(request.Header("X-Kafka-Offset") ?? request.FormValue("o"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var o) ? o : null,
        };
    }

    private void Record(ReceivedRequest request)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _requests.Add(request);
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string Describe(TimeSpan timeout, IReadOnlyList<ReceivedRequest> requests)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture,
            $"Condition not met within {timeout.TotalSeconds:0.###} s; {requests.Count} request(s) received");
        const int Shown = 20;
        if (requests.Count > Shown)
        {
            text.Append(CultureInfo.InvariantCulture, $" (last {Shown} shown)");
        }

        text.Append(':');
        foreach (var request in requests.Skip(Math.Max(0, requests.Count - Shown)))
        {
            text.AppendLine().Append("  ").Append(request);
        }

        return text.ToString();
    }
}
