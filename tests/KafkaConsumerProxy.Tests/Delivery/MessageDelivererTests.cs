using System.Collections.Concurrent;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The delivery loop against a real Kestrel endpoint, on a fake clock: how often it attempts, and what it logs while
/// a message fails for minutes.
/// </summary>
public sealed class MessageDelivererTests : IDisposable
{
    private readonly DelayRecordingTime _time = new();
    private readonly FakeLogCollector _logs = new();
    private readonly ILoggerFactory _loggers;
    private readonly ProxyMetrics _metrics = new(TimeProvider.System);
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-deliverer-").FullName;
    private readonly List<HttpDeliverer> _http = [];

    public MessageDelivererTests() => _loggers = FakeLogs.AtInformation(_logs);

    [Fact]
    public async Task DeliverAsync_FailingForever_FirstFailureThenOneSummaryPer30sPerPartition_Issue7()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(Status(404));
        var (deliverer, skipLog) = Create(endpoint.Port, retryIntervalMs: 1_000);
        using var _ = skipLog;
        using var abandon = new CancellationTokenSource();

        var delivery = deliverer.DeliverAsync(Record(7), abandon.Token).AsTask();
        await AdvanceOverAttemptsAsync(95, TimeSpan.FromSeconds(1));
        await abandon.CancelAsync();

        Assert.Equal(MessageDisposition.Abandoned, await delivery.WaitAsync(TimeSpan.FromSeconds(10)));
        var lines = _logs.Lines();
        var failed = Assert.Single(lines, l => l.Contains("delivery of orders/3@7 failed", StringComparison.Ordinal));
        Assert.Contains("(attempt 1): HTTP 404", failed, StringComparison.Ordinal);
        var summaries = lines.Where(l => l.Contains("more failed attempt(s)", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, summaries.Count);
        Assert.All(summaries, s => Assert.Matches(@"^Warning: Route r: orders/3: \d+ more failed attempt\(s\) in the last 30 s \(not logged one by one\); latest: offset 7, attempt \d+: HTTP 404 from ", s));
        var blocked = lines.Where(l => l.Contains("is blocked", StringComparison.Ordinal)).ToList();
        Assert.Equal(["10 failed attempts", "40 failed attempts", "70 failed attempts"], blocked.Select(b => System.Text.RegularExpressions.Regex.Match(b, @"\d+ failed attempts").Value));
        Assert.Equal(1 + 3 + 3, lines.Count);

        // Every attempt is accounted for: the first line plus the counts of the summaries (the last ones not yet due).
        var counted = summaries.Sum(s => long.Parse(System.Text.RegularExpressions.Regex.Match(s, @"orders/3: (\d+) more").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(endpoint.Requests - 1 - counted, 0, 6);
    }

    [Fact]
    public async Task DeliverAsync_RetryIntervalZero_AttemptsAtLeastTheFloorApart_Issue7()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(Status(404));
        var (deliverer, skipLog) = Create(endpoint.Port, retryIntervalMs: 0);
        using var _ = skipLog;
        using var abandon = new CancellationTokenSource();

        var delivery = deliverer.DeliverAsync(Record(1), abandon.Token).AsTask();
        await AdvanceOverAttemptsAsync(20, RetryPolicy.MinRetryInterval);
        await abandon.CancelAsync();

        Assert.Equal(MessageDisposition.Abandoned, await delivery.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(10), RetryPolicy.MinRetryInterval);
        Assert.All(_time.Delays, d => Assert.Equal(RetryPolicy.MinRetryInterval, d));
        Assert.InRange(endpoint.Requests, 20, 21);
    }

    [Fact]
    public async Task DeliverBatchAsync_FailingForever_OneLinePerBatchNotPerMessage_Issue7()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(Status(503));
        var (deliverer, skipLog) = Create(endpoint.Port, retryIntervalMs: 1_000, format: RequestFormat.Json);
        using var _ = skipLog;
        using var abandon = new CancellationTokenSource();
        var batch = Enumerable.Range(20, 50).Select(o => Record(o)).ToList();

        var delivery = deliverer.DeliverBatchAsync(batch, (_, _) => ValueTask.CompletedTask, abandon.Token);
        await AdvanceOverAttemptsAsync(35, TimeSpan.FromSeconds(1));
        await abandon.CancelAsync();
        await delivery.WaitAsync(TimeSpan.FromSeconds(10));

        var lines = _logs.Lines();
        var failed = Assert.Single(lines, l => l.Contains("failed (attempt", StringComparison.Ordinal));
        Assert.Contains("orders/3@20 failed (attempt 1): HTTP 503 from ", failed, StringComparison.Ordinal);
        Assert.EndsWith("(batch of 50: offsets 20-69)", failed, StringComparison.Ordinal);
        var blocked = Assert.Single(lines, l => l.Contains("is blocked", StringComparison.Ordinal));
        Assert.Contains("orders/3@20 is blocked: 10 failed attempts", blocked, StringComparison.Ordinal);
        Assert.Single(lines, l => l.Contains("more failed attempt(s)", StringComparison.Ordinal));

        // The route's circuit breaker opened once (after breaker_failures, 20): one line for the whole episode.
        Assert.Single(lines, l => l.Contains("circuit breaker open after 20 consecutive failed attempts", StringComparison.Ordinal));
        Assert.Equal(4, lines.Count);
    }

    [Fact]
    public async Task DeliverAsync_SkippedWithEndpointText_SkipRecordAndLogEscaped_Issue7()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
            context.Response.Body.WriteAsync("\u001b]0;pwned\u0007\0\r\nWarning: fake"u8.ToArray()).AsTask());
        var (deliverer, skipLog) = Create(endpoint.Port, retryIntervalMs: 0, canSkip: true);
        using (skipLog)
        {
            Assert.Equal(MessageDisposition.Skipped, await deliverer.DeliverAsync(Record(5), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        }

        const string Escaped = "body is not JSON: \\x1B]0;pwned\\x07\\x00\\x0D\\x0AWarning: fake";
        var record = await File.ReadAllTextAsync(Path.Combine(_stateDir, StateDirLayout.SkipLogFile));
        Assert.Contains("\"last_failure\":\"rejected_body from 127.0.0.1:" + endpoint.Port + ": " + Escaped.Replace("\\", "\\\\", StringComparison.Ordinal) + "\"", record, StringComparison.Ordinal);
        Assert.All(_logs.Lines(), l => Assert.DoesNotContain(l, c => c < 0x20));
        Assert.Contains(_logs.Lines(), l => l.Contains("skipped orders/3@5 after 1 attempt(s); last failure: rejected_body from ", StringComparison.Ordinal) && l.EndsWith(Escaped, StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _http.ForEach(h => h.Dispose());
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

    private (MessageDeliverer Deliverer, SkipLog SkipLog) Create(int port, int retryIntervalMs, RequestFormat format = RequestFormat.Form, bool canSkip = false)
    {
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = port, ExecTimeoutMs = 5_000 }, Retry = TestRoutes.Retry with { RetryIntervalMs = retryIntervalMs, CanSkip = canSkip }, Delivery = TestRoutes.Delivery with { Format = format } };
        var skipLog = new SkipLog(_stateDir);
        var http = new HttpDeliverer(route);
        _http.Add(http);
        return (new MessageDeliverer(route, http, skipLog, new ManualSkipSignal(_time, _loggers), _metrics, _loggers.CreateLogger<MessageDeliverer>(), _time), skipLog);
    }

    // Each failed attempt is followed by one wait between attempts; once that wait is armed, the fake clock is moved
    // past it, so the next attempt goes out at once. Bounded in real time per attempt.
    private async Task AdvanceOverAttemptsAsync(int attempts, TimeSpan interval)
    {
        for (var i = 1; i <= attempts; i++)
        {
            await Eventually.ValueAsync(() => _time.Delays.Count, n => n >= i, $"attempt {i}: a wait between attempts armed", TimeSpan.FromSeconds(10), n => $"{n} waits", TimeSpan.FromMilliseconds(5));

            _time.Advance(interval);
        }
    }

    /// <summary>A fake clock that records the due time of every one-shot timer with a finite due time (the waits between attempts).</summary>
    private sealed class DelayRecordingTime : FakeTimeProvider
    {
        private readonly ConcurrentQueue<TimeSpan> _delays = new();

        public IReadOnlyList<TimeSpan> Delays => [.. _delays];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            // Recorded once the fake clock holds it: a test that sees it and moves the clock fires it.
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime != Timeout.InfiniteTimeSpan && period == Timeout.InfiniteTimeSpan)
            {
                _delays.Enqueue(dueTime);
            }

            return timer;
        }
    }
}
