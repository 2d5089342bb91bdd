using System.Diagnostics;
using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>One attempt against a real Kestrel endpoint: what is read of the answer, and what the outcome is.</summary>
public sealed class HttpDelivererTests
{
    private static readonly KafkaRecord Record = new("orders", 0, 1, 0, null, "v"u8.ToArray(), []);

    [Theory]
    [InlineData(null)]
    [InlineData(1_000L)]
    [InlineData(10_000_000L)]
    public async Task StatusCheck_200ThenBodyNeverEnds_DeliveredAtOnceAndConnectionDroppedInBackground_Issue7(long? contentLength)
    {
        var held = new ScriptedEndpointCounter();
        await using var endpoint = await ScriptedEndpoint.StartAsync(ScriptedEndpoint.HoldBodyOpen(held, "{\"errno\":"u8.ToArray(), contentLength));
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Status, execTimeoutMs: 5_000));

        var results = new List<DeliveryResult>();
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            results.Add(await http.SendAsync(Record with { Offset = attempt }, slot: 0, attempt: 1));
        }

        var elapsed = clock.Elapsed;
        Assert.All(results, r => Assert.Equal(DeliveryOutcome.Success, r.Outcome));
        // Waiting for the body would take the 5 s exec_timeout_ms per attempt; the bound leaves a busy machine room.
        Assert.True(elapsed < TimeSpan.FromSeconds(4.5), $"5 attempts took {elapsed}; each should be decided on the status line");
        Assert.Equal(5, endpoint.Requests);

        // The held connections are not kept forever: drained within MaxDrainTime, then closed.
        await Eventually.ValueAsync(() => held.Aborted, n => n == 5, "5 held connections closed", HttpDeliverer.MaxDrainTime + TimeSpan.FromSeconds(5), n => $"{n} closed");
    }

    [Fact]
    public async Task StatusCheck_404ThenBodyNeverEnds_BadStatusAtOnce_Issue7()
    {
        var held = new ScriptedEndpointCounter();
        await using var endpoint = await ScriptedEndpoint.StartAsync(ScriptedEndpoint.HoldBodyOpen(held, "not found"u8.ToArray(), status: 404));
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 5_000));

        var result = await http.SendAsync(Record, slot: 0, attempt: 1);

        Assert.Equal((DeliveryOutcome.BadStatus, 404), (result.Outcome, result.StatusCode));
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(4.5), $"took {result.Elapsed}; waiting for the body would take the 5 s exec_timeout_ms");
    }

    [Fact]
    public async Task ErrnoCheck_200ThenBodyNeverEnds_TimeoutAfterExecTimeout()
    {
        // The errno check needs the whole body, so exec_timeout_ms bounds it; contrast with the status check.
        var held = new ScriptedEndpointCounter();
        await using var endpoint = await ScriptedEndpoint.StartAsync(ScriptedEndpoint.HoldBodyOpen(held, "{\"errno\":"u8.ToArray()));
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 300));

        var result = await http.SendAsync(Record, slot: 0, attempt: 1);

        Assert.Equal(DeliveryOutcome.Timeout, result.Outcome);
    }

    [Theory]
    [InlineData(65_536, true, DeliveryOutcome.Success)]
    [InlineData(65_536, false, DeliveryOutcome.Success)]
    [InlineData(65_537, true, DeliveryOutcome.RejectedBody)]
    [InlineData(65_537, false, DeliveryOutcome.RejectedBody)]
    [InlineData(1_000_000, false, DeliveryOutcome.RejectedBody)]
    public async Task ErrnoCheck_BodySizeAtTheDocumentedLimit_64KiBAcceptedOneByteMoreRejected_Issue7(int size, bool declareLength, DeliveryOutcome expected)
    {
        var body = Body(size);
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            if (declareLength)
            {
                context.Response.ContentLength = body.Length;
            }

            await context.Response.Body.WriteAsync(body);
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 5_000));

        var result = await http.SendAsync(Record, slot: 0, attempt: 1);
        var second = await http.SendAsync(Record, slot: 0, attempt: 1);

        Assert.Equal(expected, result.Outcome);
        Assert.Equal(expected, second.Outcome);
        if (expected == DeliveryOutcome.RejectedBody)
        {
            Assert.Contains("over the 65536-byte (64 KiB) limit", result.Reason, StringComparison.Ordinal);
            Assert.Contains(declareLength ? $"body of {size} bytes" : "body of more than 65536 bytes", result.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ErrnoCheck_BodyWithAnsiAndNul_DescribeEscapesIt_Issue7()
    {
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
            context.Response.Body.WriteAsync("\u001b[31mFAIL\0\r\nWarning: forged line"u8.ToArray()).AsTask());
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 5_000));

        var result = await http.SendAsync(Record, slot: 0, attempt: 1);

        Assert.Equal(DeliveryOutcome.RejectedBody, result.Outcome);
        Assert.Equal($"rejected_body from 127.0.0.1:{endpoint.Port}: body is not JSON: \\x1B[31mFAIL\\x00\\x0D\\x0AWarning: forged line", result.Describe());
    }

    // {"errno":0,"pad":"xxx…"} of exactly size bytes.
    private static byte[] Body(int size)
    {
        const string Head = "{\"errno\":0,\"pad\":\"", Tail = "\"}";
        return Encoding.ASCII.GetBytes(Head + new string('x', size - Head.Length - Tail.Length) + Tail);
    }

    [Fact]
    public async Task Elapsed_IsMeasuredOnTheRoutesClock_Issue16()
    {
        // The endpoint answers only after the test moved the route's clock 3 s: the attempt's duration (metrics,
        // slow_time_ms, adaptive concurrency) is exactly that, whatever the machine's real time did meanwhile.
        var time = new FakeTimeProvider();
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await answer.Task;
            await context.Response.WriteAsync("{}");
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Status, execTimeoutMs: 30_000), time);

        var attempt = http.SendAsync(Record, slot: 0, attempt: 1).AsTask();
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(3));
        answer.SetResult();
        var result = await attempt.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(DeliveryOutcome.Success, result.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(3), result.Elapsed);
    }

    [Fact]
    public async Task CancelInFlight_RequestHeldByTheEndpoint_EndsAtOnceAsCancelledNotTimeout_LaterAttemptsToo()
    {
        // A retiring route's bounded wait ends its requests: not after exec_timeout_ms (a minute here), and not reported
        // as the endpoint's timeout (the messages are abandoned, left uncommitted, by MessageDeliverer).
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 60_000));

        var attempt = http.SendAsync(Record, slot: 0, attempt: 1).AsTask();
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(http.InFlightCancelled);
        var clock = Stopwatch.StartNew();
        http.CancelInFlight();
        var result = await attempt.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the cancelled attempt ended after {clock.Elapsed}");
        Assert.True(http.InFlightCancelled);
        Assert.False(result.IsSuccess);
        Assert.NotEqual(DeliveryOutcome.Timeout, result.Outcome);
        var later = await http.SendAsync(Record with { Offset = 2 }, slot: 0, attempt: 1).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(later.IsSuccess);
        Assert.Equal(1, endpoint.Requests);
    }

    [Fact]
    public async Task ExecTimeout_AfterAnsweredAttemptsReusedTheirTimeouts_StillCutsAHeldAnswer()
    {
        // Answered attempts give their timeout sources back to be re-armed; a re-armed one must still cut the exchange.
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            if (context.Request.Headers["X-Kafka-Offset"] == "99")
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
            }

            await context.Response.WriteAsync("{\"errno\":0}");
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, ResponseCheck.Errno, execTimeoutMs: 500));

        for (var offset = 1; offset <= 5; offset++)
        {
            Assert.Equal(DeliveryOutcome.Success, (await http.SendAsync(Record with { Offset = offset }, slot: 0, attempt: 1)).Outcome);
        }

        var clock = Stopwatch.StartNew();
        var held = await http.SendAsync(Record with { Offset = 99 }, slot: 0, attempt: 1).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(DeliveryOutcome.Timeout, held.Outcome);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(450), $"cut after {clock.Elapsed}, before exec_timeout_ms");
        Assert.False(http.InFlightCancelled);
        Assert.Equal(DeliveryOutcome.Success, (await http.SendAsync(Record with { Offset = 6 }, slot: 0, attempt: 1)).Outcome);
    }

    private static RouteDefinition Route(int port, ResponseCheck check, int execTimeoutMs) =>
        TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = port, ResponseCheck = check, ExecTimeoutMs = execTimeoutMs } };
}
