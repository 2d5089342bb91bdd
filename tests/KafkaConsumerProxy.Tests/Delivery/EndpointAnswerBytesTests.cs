using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// One attempt against an endpoint that writes its answer byte by byte (<see cref="RawHttpEndpoint"/>): what kcp reads
/// of a <c>Kcp-Action</c> or a <c>Retry-After</c> no HTTP server library would send (docs/ENDPOINT-CONTRACT.md, "Bad
/// input").
/// </summary>
public sealed class EndpointAnswerBytesTests
{
    private static readonly KafkaRecord Record = new("orders", 0, 1, 0, null, "v"u8.ToArray(), []);

    /// <summary>
    /// The HTTP client replaces a CR, LF or NUL inside a header value with a space (RFC 9110, section 5.5) before kcp
    /// reads it; a bare LF ends the header line, a bare CR does not. Only a value that still reads as one action acts.
    /// </summary>
    [Theory]
    [InlineData("Kcp-Action: skip\rretry\r\n", EndpointAction.None, "skip retry")]
    [InlineData("Kcp-Action: sk\rip\r\n", EndpointAction.None, "sk ip")]
    [InlineData("Kcp-Action: sk\0ip\r\n", EndpointAction.None, "sk ip")]
    [InlineData("Kcp-Action: retry\r\n skip\r\n", EndpointAction.None, "retry   skip")]
    [InlineData("Kcp-Action: skip\u0001\r\n", EndpointAction.None, "skip\u0001")]
    [InlineData("Kcp-Action: skip\u007f\r\n", EndpointAction.None, "skip\u007f")]
    [InlineData("Kcp-Action: skip\nKcp-Action: retry\r\n", EndpointAction.None, "skip, retry")]
    [InlineData("X-Note: a\rKcp-Action: skip\r\n", EndpointAction.None, null)]
    [InlineData("X-Note: a\nKcp-Action: skip\r\n", EndpointAction.Skip, null)]
    [InlineData("Kcp-Action: skip\r\r\n", EndpointAction.Skip, null)]
    public async Task KcpAction_WithRawCrLfOrNulOrControlCharacters_ReadAsTheRfcSays_OnlyOneWholeActionActs_Issue20(string headerLines, EndpointAction expected, string? unknown)
    {
        var result = await SendAsync(RawHttpEndpoint.Answer("500 Internal Server Error", headerLines));

        Assert.Equal(expected, result.Action);
        Assert.Equal(unknown, result.UnknownAction);
        Assert.Equal(expected == EndpointAction.None ? DeliveryOutcome.BadStatus : DeliveryOutcome.EndpointAction, result.Outcome);
        Assert.Equal(500, result.StatusCode);
    }

    [Fact]
    public async Task KcpAction_OverTheHeaderSizeLimit_ConnectionError_Retried_NotSkipped_Issue20()
    {
        // The whole head over the client's 64 KiB limit of response headers: no answer was read, so nothing acts.
        var result = await SendAsync(RawHttpEndpoint.Answer("200 OK", $"Kcp-Action: skip\r\nX-Padding: {new string('a', 70 * 1024)}\r\n"));

        Assert.Equal(DeliveryOutcome.ConnectionError, result.Outcome);
        Assert.Equal(EndpointAction.None, result.Action);
    }

    [Fact]
    public async Task KcpAction_OnAnInterim1xxAnswer_NotSeen_TheFinalAnswerDecides_Issue20()
    {
        var interim = "HTTP/1.1 103 Early Hints\r\nKcp-Action: skip\r\n\r\nHTTP/1.1 100 Continue\r\nKcp-Action: commit\r\n\r\n"u8.ToArray();
        var result = await SendAsync([.. interim, .. RawHttpEndpoint.Answer("503 Service Unavailable", "")]);

        Assert.Equal((DeliveryOutcome.BadStatus, 503, EndpointAction.None), (result.Outcome, result.StatusCode, result.Action));
    }

    [Fact]
    public async Task ThreeXx_NotFollowed_AFailureWithoutKcpAction_TheActionWithOne_Issue20()
    {
        await using var elsewhere = RawHttpEndpoint.Start(_ => RawHttpEndpoint.Answer("200 OK", ""));
        var location = $"Location: http://127.0.0.1:{elsewhere.Port}/consume\r\n";

        var plain = await SendAsync(RawHttpEndpoint.Answer("307 Temporary Redirect", location));
        var acted = await SendAsync(RawHttpEndpoint.Answer("302 Found", location + "Kcp-Action: dead-letter\r\n"));

        Assert.Equal((DeliveryOutcome.BadStatus, 307), (plain.Outcome, plain.StatusCode));
        Assert.Equal((DeliveryOutcome.EndpointAction, EndpointAction.DeadLetter, 302), (acted.Outcome, acted.Action, acted.StatusCode));
        Assert.Empty(elsewhere.Requests);
    }

    /// <summary>
    /// <c>Retry-After</c> as read for a <c>Kcp-Action: retry</c> (on any status): a number too large for the runtime is
    /// the longest wait, not none; what cannot be read at all is absent; a date in the past is no wait.
    /// </summary>
    [Theory]
    [InlineData("2", 2.0)]
    [InlineData("1000000000000", int.MaxValue * 1.0)]
    [InlineData("2147483648", int.MaxValue * 1.0)]
    [InlineData(" 99999999999999999999999999 ", int.MaxValue * 1.0)]
    [InlineData("Thu, 01 Jan 2015 00:00:00 GMT", 0.0)]
    [InlineData("-5", null)]
    [InlineData("soon", null)]
    [InlineData("1.5", null)]
    [InlineData("", null)]
    public async Task RetryAfter_HugePastOrUnreadable_ReadAsDocumented_Issue20(string value, double? seconds)
    {
        var result = await SendAsync(RawHttpEndpoint.Answer("200 OK", $"Kcp-Action: retry\r\nRetry-After: {value}\r\n"));

        Assert.Equal(EndpointAction.Retry, result.Action);
        Assert.Equal(seconds, result.RetryAfter?.TotalSeconds);
    }

    [Fact]
    public async Task RetryAfter_Huge_BoundedByRetryMaxInterval_AndAPauseByItsDay_Issue20()
    {
        var result = await SendAsync(RawHttpEndpoint.Answer("503 Service Unavailable", "Retry-After: 1000000000000\r\n"));

        var retry = TestRoutes.Retry with { RetryIntervalMs = 100, RetryMaxIntervalMs = 3000 };
        Assert.Equal(TimeSpan.FromSeconds(3), RetryPolicy.Delay(retry, 1, result.RetryAfter, 0.5));
        Assert.Equal(EndpointActions.MaxPause, EndpointActions.PauseFor(result.RetryAfter!.Value));
        Assert.Equal(EndpointActions.MinPause, EndpointActions.PauseFor(TimeSpan.Zero));
    }

    private static async Task<DeliveryResult> SendAsync(byte[] answer)
    {
        await using var endpoint = RawHttpEndpoint.Start(_ => answer);
        using var http = new HttpDeliverer(TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = endpoint.Port, ExecTimeoutMs = 5_000 } });
        return await http.SendAsync(Record, slot: 0, attempt: 1);
    }
}
