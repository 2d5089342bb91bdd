using System.Diagnostics;
using System.Net;
using System.Text;

namespace KafkaConsumerProxy.Tests.Harness;

public sealed class RecordingReceiverTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly HttpClient _client = new(new SocketsHttpHandler()) { Timeout = TimeSpan.FromSeconds(10) };
    private RecordingReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await RecordingReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task NoFault_BinaryFormPost_AnswersErrnoZeroAndRecordsExactBytes()
    {
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes($"m={PercentEncode(binary)}&p=2&o=5"));
        content.Headers.ContentType = new("application/x-www-form-urlencoded");
        content.Headers.Add("X-Kafka-Partition", "7");

        using var response = await _client.PostAsync(_receiver.Url("/any/path?x=1"), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"errno":0}""", await response.Content.ReadAsStringAsync());
        var request = Assert.Single(_receiver.Requests);
        Assert.Equal(("POST", "/any/path", "?x=1"), (request.Method, request.Path, request.Query));
        Assert.Equal(binary, request.FormValueBytes("m"));
        Assert.Equal("7", request.Header("x-kafka-partition"));
        Assert.Equal((7, 5L), (request.Partition, request.Offset));
        Assert.Same(Fault.None, request.Fault);
    }

    [Fact]
    public async Task ErrnoFault_AnswersOkWithErrnoBody()
    {
        _receiver.Script = FaultScript.Always(Fault.Errno(3, "nope"));

        using var response = await PostAsync(0, 0);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"errno":3,"errmsg":"nope"}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(FaultKind.ErrnoBody, Assert.Single(_receiver.Requests).Fault.Kind);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task StatusFault_AnswersThatStatus(int status)
    {
        _receiver.Script = FaultScript.Always(Fault.Status(status));

        using var response = await PostAsync(0, 0);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.True(Assert.Single(_receiver.Requests).Fault.IsFailure);
    }

    [Fact]
    public async Task DelayedFault_AnswersNormallyAfterTheDelay()
    {
        _receiver.Script = FaultScript.Always(Fault.Delayed(TimeSpan.FromMilliseconds(300)));
        var timer = Stopwatch.StartNew();

        using var response = await PostAsync(0, 0);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Timers run on a millisecond tick and may fire up to a tick early against the Stopwatch.
        Assert.True(timer.ElapsedMilliseconds >= 290, $"answered after {timer.ElapsedMilliseconds} ms");
        Assert.False(Assert.Single(_receiver.Requests).Fault.IsFailure);
    }

    [Fact]
    public async Task AbortFault_DropsTheConnection()
    {
        _receiver.Script = FaultScript.Always(Fault.Abort);

        await Assert.ThrowsAsync<HttpRequestException>(() => PostAsync(0, 0));

        Assert.All(_receiver.Requests, r => Assert.Equal(FaultKind.Abort, r.Fault.Kind));
    }

    [Fact]
    public async Task NonJsonFault_AnswersOkWithHtml()
    {
        _receiver.Script = FaultScript.Always(Fault.NonJson);

        using var response = await PostAsync(0, 0);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("<html>oops</html>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task FailTimes_FailsTheFirstRequestsThenSucceeds()
    {
        _receiver.Script = FaultScript.FailTimes(2, Fault.Status(503));

        var statuses = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await PostAsync(0, i);
            statuses.Add((int)response.StatusCode);
        }

        Assert.Equal([503, 503, 200], statuses);
    }

    [Fact]
    public async Task FailTimesPerMessage_EachMessageFailsOnceThenSucceeds()
    {
        _receiver.Script = FaultScript.FailTimesPerMessage(1, Fault.Errno());

        foreach (var (partition, offset) in new[] { (0, 0L), (0, 0L), (1, 0L), (0, 1L), (1, 0L) })
        {
            using var response = await PostAsync(partition, offset);
        }

        Assert.Equal(
            [true, false, true, true, false],
            _receiver.Requests.Select(r => r.Fault.IsFailure));
    }

    [Fact]
    public async Task ForMessage_FailsThatOffsetForeverAndNothingElse()
    {
        _receiver.Script = FaultScript.ForMessage(partition: 2, offset: 5, Fault.Status(500));

        foreach (var offset in new[] { 5L, 6L, 5L, 5L })
        {
            using var response = await PostAsync(2, offset);
        }

        Assert.Equal([true, false, true, true], _receiver.Requests.Select(r => r.Fault.IsFailure));
    }

    [Fact]
    public async Task RandomFault_SameSeed_SameFailuresAtRoughlyTheRate()
    {
        var first = await RunRandomAsync(seed: 7);
        var second = await RunRandomAsync(seed: 7);

        Assert.Equal(first, second);
        Assert.InRange(first.Count(failed => failed), 25, 75);

        async Task<List<bool>> RunRandomAsync(int seed)
        {
            await using var receiver = await RecordingReceiver.StartAsync(FaultScript.Random(0.5, seed, Fault.Status(503)));
            var failed = new List<bool>();
            for (var i = 0; i < 100; i++)
            {
                using var response = await _client.PostAsync(receiver.Url("/r"), null);
                failed.Add(response.StatusCode != HttpStatusCode.OK);
            }

            return failed;
        }
    }

    [Fact]
    public async Task ThrowingScript_AnswersAndRecords500()
    {
        _receiver.Script = _ => throw new InvalidOperationException("bug in test script");

        using var response = await PostAsync(0, 0);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("bug in test script", Assert.Single(_receiver.Requests).Fault.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForAsync_ConditionMetByLaterRequest_Completes()
    {
        var waiting = _receiver.WaitForAsync(r => r.Any(x => x.Offset == 3), Timeout);

        for (var offset = 0; offset <= 3; offset++)
        {
            using var response = await PostAsync(0, offset);
        }

        await waiting;
    }

    [Fact]
    public async Task WaitForAsync_NeverMet_ThrowsTimeoutListingRequests()
    {
        using var response = await PostAsync(4, 9);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(
            () => _receiver.WaitForCountAsync(2, TimeSpan.FromMilliseconds(100)));

        Assert.Contains("1 request(s)", timeout.Message, StringComparison.Ordinal);
        Assert.Contains("p=4 o=9", timeout.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a=1+2&b=%41%zz&&c", "a", "1 2")]
    [InlineData("a=1+2&b=%41%zz&&c", "b", "A%zz")]
    [InlineData("a=1+2&b=%41%zz&&c", "c", "")]
    [InlineData("x%3Dy=%26", "x=y", "&")]
    public void DecodeForm_DecodesPlusEscapesAndKeepsMalformedEscapes(string body, string name, string expected)
    {
        var field = Assert.Single(ReceivedRequest.DecodeForm(Encoding.ASCII.GetBytes(body)), f => f.Key == name);

        Assert.Equal(expected, Encoding.UTF8.GetString(field.Value));
    }

    private async Task<HttpResponseMessage> PostAsync(int partition, long offset)
    {
        using var content = new FormUrlEncodedContent([new("m", "hello"), new("p", $"{partition}"), new("o", $"{offset}")]);
        return await _client.PostAsync(_receiver.Url("/orders"), content);
    }

    private static string PercentEncode(byte[] bytes) => string.Concat(bytes.Select(b => $"%{b:X2}"));
}
