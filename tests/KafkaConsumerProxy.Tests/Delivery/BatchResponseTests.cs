using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>How the answer to a batch is read: whole success, a retry list, per-message actions, or a failure of the whole batch.</summary>
public sealed class BatchResponseTests
{
    // Offsets 5-12 of one partition, as a batch sent to the endpoint holds them.
    private static readonly KafkaRecord[] Batch = [.. Enumerable.Range(5, 8).Select(o => new KafkaRecord("t", 0, o, 0, null, [], []))];

    [Theory]
    [InlineData("""{"errno":0}""")]
    [InlineData("""{}""")]
    [InlineData("""{"errno":0,"retry":[]}""")]
    [InlineData("""{"errno":0,"retry":null}""")]
    [InlineData("""{"retry":[],"data":{"retry":[1]}}""")]
    public void ClassifyBatch_NothingToRetry_WholeBatchSucceeds(string body)
    {
        var answer = new BatchAnswer();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), Batch, answer);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.True(answer.IsEmpty);
    }

    [Fact]
    public void ClassifyBatch_RetryList_SuccessWithThoseOffsets()
    {
        var answer = new BatchAnswer();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, """{"retry":[12,9],"errno":0}"""u8, Batch, answer);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.Equal([12L, 9L], answer.RetryList);
    }

    [Theory]
    [InlineData(200, """{"errno":1,"retry":[5]}""", DeliveryOutcome.RejectedBody, "errno 1: ")]
    [InlineData(200, """{"errno":0,"retry":"5"}""", DeliveryOutcome.RejectedBody, "\"retry\" must be an array of offsets (integers): ")]
    [InlineData(200, """{"errno":0,"retry":[5,"6"]}""", DeliveryOutcome.RejectedBody, "\"retry\" must be an array of offsets (integers): ")]
    [InlineData(200, """{"errno":0,"retry":[5.5]}""", DeliveryOutcome.RejectedBody, "\"retry\" must be an array of offsets (integers): ")]
    [InlineData(200, """[{"errno":0}]""", DeliveryOutcome.RejectedBody, "body is not a JSON object: ")]
    [InlineData(503, """{"errno":0,"retry":[5]}""", DeliveryOutcome.BadStatus, "HTTP 503")]
    public void ClassifyBatch_Failure_WholeBatchFailsAndNoRetryList(int status, string body, DeliveryOutcome expected, string reasonStart)
    {
        var answer = new BatchAnswer();

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, status, Encoding.UTF8.GetBytes(body), Batch, answer);

        Assert.Equal(expected, outcome);
        Assert.StartsWith(reasonStart, reason, StringComparison.Ordinal);
        Assert.True(answer.IsEmpty);
    }

    [Fact]
    public void ClassifyBatch_StatusCheck_BodyNotRead()
    {
        var answer = new BatchAnswer();

        Assert.Equal(DeliveryOutcome.Success, ResponseClassifier.ClassifyBatch(ResponseCheck.Status, 204, """{"retry":[1]}"""u8, Batch, answer).Outcome);
        Assert.True(answer.IsEmpty);
    }

    [Theory]
    [InlineData("""{"errno":0,"retry":[1000]}""", "1000; the batch holds 5-12")]
    [InlineData("""{"errno":0,"retry":[6,4,13,-1]}""", "4, 13, -1; the batch holds 5-12")]
    [InlineData("""{"errno":0,"retry":[7,7,99,99]}""", "99; the batch holds 5-12")]
    public void ClassifyBatch_RetryNamesOffsetNotInBatch_RejectedBodyNotTheRestSucceeded_Issue7(string body, string named)
    {
        var answer = new BatchAnswer();

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), Batch, answer);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith($"\"retry\" names offset(s) not in the batch ({named}): {body}", reason, StringComparison.Ordinal);
        Assert.True(answer.IsEmpty);
    }

    [Fact]
    public void ClassifyBatch_RetryAgainstPartialBatch_OffsetsOfEarlierAttemptNotAccepted_Issue7()
    {
        // A retry of part of a batch holds only the offsets still failing; 6 was delivered by the first attempt.
        KafkaRecord[] partial = [Batch[2], Batch[4]];
        var answer = new BatchAnswer();

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, """{"retry":[7,6]}"""u8, partial, answer);
        var (listed, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, """{"retry":[9,7]}"""u8, partial, answer);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.Contains("(6; the batch holds 7,9)", reason, StringComparison.Ordinal);
        Assert.Equal(DeliveryOutcome.Success, listed);
        Assert.Equal([9L, 7L], answer.RetryList);
    }

    [Fact]
    public void ClassifyBatch_Actions_EachMessageAsNamed_TheOthersDelivered_Issue20()
    {
        var answer = new BatchAnswer();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200,
            """{"errno":0,"retry":[11],"actions":{"6":"skip","7":" Dead-Letter ","9":"retry","10":"commit","11":"retry","6":"SKIP"}}"""u8, Batch, answer);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.Equal(
            [EndpointAction.None, EndpointAction.Skip, EndpointAction.DeadLetter, EndpointAction.None, EndpointAction.Retry, EndpointAction.None, EndpointAction.Retry, EndpointAction.None],
            Batch.Select(r => answer.For(r.Offset)));
        Assert.True(answer.AsksDeadLetter);
    }

    [Theory]
    [InlineData("""{"errno":0,"actions":null}""")]
    [InlineData("""{"errno":0,"actions":{}}""")]
    [InlineData("""{"errno":0,"actions":{"5":"commit"}}""")]
    public void ClassifyBatch_NoActionsOrOnlyCommit_WholeBatchDelivered_Issue20(string body)
    {
        var answer = new BatchAnswer();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), Batch, answer);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.All(Batch, r => Assert.Equal(EndpointAction.None, answer.For(r.Offset)));
    }

    /// <summary>An action list the endpoint got wrong fails the whole batch: nothing is delivered or skipped on its strength.</summary>
    [Theory]
    [InlineData("""{"errno":0,"actions":["6","skip"]}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"6":"pause"}}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"6":"explode"}}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"6":1}}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"six":"skip"}}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"6.0":"skip"}}""", "\"actions\" must be an object of offsets")]
    [InlineData("""{"errno":0,"actions":{"6":"skip","6":"retry"}}""", "\"actions\" names offset 6 for two different actions")]
    [InlineData("""{"errno":0,"actions":{"6":"skip","99":"skip"}}""", "\"actions\" names offset(s) not in the batch (99; the batch holds 5-12)")]
    [InlineData("""{"errno":0,"retry":[6],"actions":{"6":"dead-letter"}}""", "offset 6 is in \"retry\" and named dead-letter in \"actions\"")]
    [InlineData("""{"errno":1,"actions":{"6":"skip"}}""", "errno 1")]
    public void ClassifyBatch_ActionsWrong_WholeBatchFails_NothingNamed_Issue20(string body, string reasonStart)
    {
        var answer = new BatchAnswer();

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), Batch, answer);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith(reasonStart, reason, StringComparison.Ordinal);
        Assert.True(answer.IsEmpty);
    }

    [Fact]
    public void ClassifyBatch_StatusCheck_ActionsNotRead_Issue20()
    {
        var answer = new BatchAnswer();

        Assert.Equal(DeliveryOutcome.Success, ResponseClassifier.ClassifyBatch(ResponseCheck.Status, 200, """{"actions":{"6":"skip"}}"""u8, Batch, answer).Outcome);
        Assert.True(answer.IsEmpty);
    }

    [Fact]
    public void ClassifyBatch_ManyUnknownOffsets_ReasonNamesTenAndTheCount_Issue7()
    {
        var body = "{\"retry\":[" + string.Join(",", Enumerable.Range(100, 50)) + "]}";

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), Batch, new BatchAnswer());

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.Contains("(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, … 50 in all; the batch holds 5-12)", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassifyBatch_ErrnoTextWithControlCharacters_ReasonEscapedAndCut_Issue7()
    {
        // Valid JSON whose errno string decodes to ESC and NUL; the body itself is long.
        var body = Encoding.UTF8.GetBytes("{\"errno\":\"\\u001b[2J\\u0000bad\",\"pad\":\"" + new string('p', 500) + "\"}");

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, body, Batch, new BatchAnswer());

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith("errno \"\\x1B[2J\\x00bad\": {\"errno\":\"\\u001b[2J", reason, StringComparison.Ordinal);
        Assert.EndsWith($"… ({body.Length} bytes)", reason, StringComparison.Ordinal);
        Assert.DoesNotContain(reason!, c => c < 0x20);
    }

    [Fact]
    public void Classify_RawControlAndGzipBytes_ReasonEscaped_Issue7()
    {
        byte[] body = [0x1B, (byte)'[', (byte)'3', (byte)'1', (byte)'m', 0x00, (byte)'\r', (byte)'\n', 0x1F, 0x8B, 0x08];

        var (outcome, reason) = ResponseClassifier.Classify(ResponseCheck.Errno, 200, body);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.Equal("body is not valid UTF-8 JSON: \\x1B[31m\\x00\\x0D\\x0A\\x1F\\x8B\\x08", reason);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'e', (byte)'r', (byte)'r', (byte)'n', (byte)'o', (byte)'"', (byte)':', (byte)'"', 0xFF, (byte)'"', (byte)'}' })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)'}' })]
    public void Classify_InvalidUtf8InsideJsonStrings_RejectedBodyWithEscapedPreviewNotAnException_Issue7(byte[] body)
    {
        var (outcome, reason) = ResponseClassifier.Classify(ResponseCheck.Errno, 200, body);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith("body is not valid UTF-8 JSON: {\"", reason, StringComparison.Ordinal);
        Assert.Matches(@"\\x(FF|C3)", reason);
    }

    [Fact]
    public void Classify_SingleMessage_RetryAndActionsPropertiesIgnored()
    {
        Assert.Equal(DeliveryOutcome.Success, ResponseClassifier.Classify(ResponseCheck.Errno, 200, """{"errno":0,"retry":"x","actions":"y"}"""u8).Outcome);
    }
}
