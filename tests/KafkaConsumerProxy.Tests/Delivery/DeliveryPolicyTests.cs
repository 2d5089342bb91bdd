using System.Collections.Concurrent;
using System.Globalization;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The delivery policy against real Kestrel endpoints: backoff and Retry-After on a fake clock, the attempt header,
/// skip_on_status, and the Retry-After gate holding back other deliveries of the route.
/// </summary>
public sealed class DeliveryPolicyTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TimerClock _time = new();
    private readonly FakeLogCollector _logs = new();
    private readonly ILoggerFactory _loggers;
    private readonly ProxyMetrics _metrics = new(TimeProvider.System);
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-policy-").FullName;
    private readonly List<IDisposable> _owned = [];

    public DeliveryPolicyTests() => _loggers = FakeLogs.AtInformation(_logs);

    [Fact]
    public async Task DeliverAsync_Exponential_WaitsGrowAndAreCapped_Issue10()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(Status(500));
        var deliverer = Create(endpoint.Port, r => r with { Retry = r.Retry with { RetryIntervalMs = 100, RetryMaxIntervalMs = 1_000, Backoff = RetryBackoff.Exponential } });
        using var abandon = new CancellationTokenSource();

        var delivery = deliverer.DeliverAsync(Record(1), abandon.Token).AsTask();
        var waits = await AdvanceOverWaitsAsync(8);
        await abandon.CancelAsync();

        Assert.Equal(MessageDisposition.Abandoned, await delivery.WaitAsync(Patience));
        double[] low = [100, 100, 200, 400, 500, 500, 500, 500];
        double[] high = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (var i = 0; i < waits.Count; i++)
        {
            Assert.InRange(waits[i].TotalMilliseconds, low[i], high[i]);
        }
    }

    [Fact]
    public async Task DeliverAsync_RetryAfterSeconds_NextAttemptWaitsWhatWasAsked_Issue10()
    {
        var answers = 0;
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            if (Interlocked.Increment(ref answers) == 1)
            {
                context.Response.StatusCode = 503;
                context.Response.Headers.RetryAfter = "3";
                return Task.CompletedTask;
            }

            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port);

        var delivery = deliverer.DeliverAsync(Record(1), CancellationToken.None).AsTask();
        var waits = await AdvanceOverWaitsAsync(1);

        Assert.Equal(MessageDisposition.Delivered, await delivery.WaitAsync(Patience));
        Assert.Equal(TimeSpan.FromSeconds(3), waits[0]);
        Assert.Contains(_logs.Lines(), l => l.Contains("HTTP 503 from ", StringComparison.Ordinal) && l.Contains("with Retry-After: no request of the route starts for 3000 ms", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeliverAsync_RetryAfterDate_WaitsUntilThatTime_Issue10()
    {
        var answers = 0;
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            if (Interlocked.Increment(ref answers) == 1)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = (_time.GetUtcNow() + TimeSpan.FromSeconds(5)).ToString("R", CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            }

            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port);

        var delivery = deliverer.DeliverAsync(Record(1), CancellationToken.None).AsTask();
        var waits = await AdvanceOverWaitsAsync(1);

        Assert.Equal(MessageDisposition.Delivered, await delivery.WaitAsync(Patience));
        // The fake clock starts on a whole second, so the HTTP date (whole seconds) loses nothing.
        Assert.Equal(TimeSpan.FromSeconds(5), waits[0]);
    }

    [Theory]
    [InlineData(503, "86400", 2_000)]
    [InlineData(503, "soon", 100)]
    [InlineData(500, "3", 100)]
    public async Task DeliverAsync_RetryAfterOutOfBoundsOrNotHonoured_UsesTheBounds_Issue10(int status, string retryAfter, int expectedMs)
    {
        var answers = 0;
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            if (Interlocked.Increment(ref answers) == 1)
            {
                context.Response.StatusCode = status;
                context.Response.Headers.RetryAfter = retryAfter;
                return Task.CompletedTask;
            }

            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port, r => r with { Retry = r.Retry with { RetryIntervalMs = 100, RetryMaxIntervalMs = 2_000 } });

        var delivery = deliverer.DeliverAsync(Record(1), CancellationToken.None).AsTask();
        var waits = await AdvanceOverWaitsAsync(1);

        Assert.Equal(MessageDisposition.Delivered, await delivery.WaitAsync(Patience));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), waits[0]);
    }

    [Fact]
    public async Task DeliverAsync_RetryAfter_OtherDeliveriesOfTheRouteWaitToo_Issue10()
    {
        var arrived = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            var offset = context.Request.Headers["X-Kafka-Offset"].ToString();
            arrived.Enqueue(offset);
            if (offset == "1" && arrived.Count(o => o == "1") == 1)
            {
                context.Response.StatusCode = 503;
                context.Response.Headers.RetryAfter = "4";
                return Task.CompletedTask;
            }

            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port);

        var first = deliverer.DeliverAsync(Record(1), CancellationToken.None).AsTask();
        await Eventually.ValueAsync(() => _time.Waits.Count, n => n >= 1, "the retry wait of offset 1", Patience, interval: TimeSpan.FromMilliseconds(5));
        var other = deliverer.DeliverAsync(Record(2), CancellationToken.None).AsTask();

        await Eventually.ValueAsync(() => _time.Waits.Count, n => n >= 2, "offset 2 waiting at the route's gate", Patience, interval: TimeSpan.FromMilliseconds(5));

        // Absence on the fake clock: a tick before the 4 s asked, neither the retry's wait nor the gate's has fired, so
        // offset 2 is held at the gate, not sent.
        _time.Advance(TimeSpan.FromSeconds(4) - TimeSpan.FromTicks(1));
        Assert.All(_time.Waits, wait => Assert.Equal(0, wait.Fired));
        Assert.Equal(["1"], arrived);
        Assert.False(other.IsCompleted);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(MessageDisposition.Delivered, await first.WaitAsync(Patience));
        Assert.Equal(MessageDisposition.Delivered, await other.WaitAsync(Patience));
        Assert.Equal(["1", "1", "2"], arrived.Order());
    }

    [Fact]
    public async Task DeliverAsync_EveryAttempt_CarriesItsNumber_Issue10()
    {
        var attempts = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            attempts.Enqueue(context.Request.Headers[RequestBuilder.AttemptHeader].ToString());
            context.Response.StatusCode = attempts.Count < 3 ? 500 : 200;
            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port);

        var delivery = deliverer.DeliverAsync(Record(1), CancellationToken.None).AsTask();
        await AdvanceOverWaitsAsync(2);

        Assert.Equal(MessageDisposition.Delivered, await delivery.WaitAsync(Patience));
        Assert.Equal(["1", "2", "3"], attempts);
    }

    [Fact]
    public async Task DeliverBatchAsync_EveryAttempt_CarriesItsNumber_Issue10()
    {
        var attempts = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            attempts.Enqueue(context.Request.Headers[RequestBuilder.AttemptHeader].ToString());
            return context.Response.WriteAsync(attempts.Count == 1 ? "{\"retry\":[11]}" : "{}");
        });
        var deliverer = Create(endpoint.Port, r => r with { Delivery = r.Delivery with { Format = RequestFormat.Json, BatchSize = 10 }, Endpoint = r.Endpoint with { ResponseCheck = ResponseCheck.Errno } });
        var done = new ConcurrentQueue<(long, MessageDisposition)>();

        var delivery = deliverer.DeliverBatchAsync([Record(10), Record(11)], (r, d) =>
        {
            done.Enqueue((r.Offset, d));
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        await AdvanceOverWaitsAsync(1);

        await delivery.WaitAsync(Patience);
        Assert.Equal(["1", "2"], attempts);
        Assert.Equal([(10L, MessageDisposition.Delivered), (11L, MessageDisposition.Delivered)], done);
    }

    [Fact]
    public async Task DeliverAsync_SkipOnStatusWithCanSkip_SkippedAtOnceRecordedWithStatus_Issue10()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(Status(410));
        var deliverer = Create(endpoint.Port, r => r with { Retry = r.Retry with { CanSkip = true, RetryNums = 5, SkipOnStatus = new HashSet<int> { 400, 410 } } });

        Assert.Equal(MessageDisposition.Skipped, await deliverer.DeliverAsync(Record(4), CancellationToken.None).AsTask().WaitAsync(Patience));

        Assert.Equal(1, endpoint.Requests);
        var line = Assert.Single(File.ReadAllLines(Path.Combine(_stateDir, StateDirLayout.SkipLogFile)));
        Assert.Contains("\"offset\":4,", line, StringComparison.Ordinal);
        Assert.Contains("\"attempts\":1,", line, StringComparison.Ordinal);
        Assert.Contains("\"manual\":false,\"kind\":\"status\",\"status\":410", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeliverAsync_SkipOnStatusWithoutCanSkip_RetriedAsUsual_Issue10()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            context.Response.StatusCode = endpointRequests(context) < 4 ? 404 : 200;
            return context.Response.WriteAsync("{}");
        });
        var deliverer = Create(endpoint.Port, r => r with { Retry = r.Retry with { SkipOnStatus = new HashSet<int> { 404 } } });

        var delivery = deliverer.DeliverAsync(Record(4), CancellationToken.None).AsTask();
        await AdvanceOverWaitsAsync(3);

        Assert.Equal(MessageDisposition.Delivered, await delivery.WaitAsync(Patience));
        Assert.Equal(4, endpoint.Requests);
        Assert.False(File.Exists(Path.Combine(_stateDir, StateDirLayout.SkipLogFile)) && File.ReadAllText(Path.Combine(_stateDir, StateDirLayout.SkipLogFile)).Length > 0);

        static int endpointRequests(HttpContext context) => int.Parse(context.Request.Headers[RequestBuilder.AttemptHeader].ToString(), CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _owned.ForEach(o => o.Dispose());
        _metrics.Dispose();
        _loggers.Dispose();
        Directory.Delete(_stateDir, recursive: true);
    }

    private static RequestDelegate Status(int status) => context =>
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsync("nope");
    };

    private static KafkaRecord Record(long offset) => new("orders", 3, offset, 0, null, "v"u8.ToArray(), []);

    private MessageDeliverer Create(int port, Func<RouteDefinition, RouteDefinition>? change = null)
    {
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = port, ExecTimeoutMs = 5_000, ResponseCheck = ResponseCheck.Status }, Retry = TestRoutes.Retry with { RetryIntervalMs = 100 } };
        route = change?.Invoke(route) ?? route;
        var skipLog = new SkipLog(_stateDir);
        var http = new HttpDeliverer(route, _time);
        _owned.Add(http);
        _owned.Add(skipLog);
        return new MessageDeliverer(route, http, skipLog, new ManualSkipSignal(_time, _loggers), _metrics, _loggers.CreateLogger<MessageDeliverer>(), _time);
    }

    // Each failed attempt arms one wait; once armed, the fake clock is moved past it. Returns the waits. Bounded.
    private async Task<List<TimeSpan>> AdvanceOverWaitsAsync(int count)
    {
        for (var i = 1; i <= count; i++)
        {
            await Eventually.ValueAsync(() => _time.Waits.Count, n => n >= i, $"wait {i} armed", Patience, n => $"{n} waits", TimeSpan.FromMilliseconds(5));
            _time.Advance(_time.Waits[i - 1].DueTime);
        }

        return [.. _time.Waits.Take(count).Select(wait => wait.DueTime)];
    }
}
