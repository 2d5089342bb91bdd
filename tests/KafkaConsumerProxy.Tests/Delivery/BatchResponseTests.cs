using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>How the answer to a batch is read: whole success, a retry list, or a failure of the whole batch.</summary>
public sealed class BatchResponseTests
{
    [Theory]
    [InlineData("""{"errno":0}""")]
    [InlineData("""{}""")]
    [InlineData("""{"errno":0,"retry":[]}""")]
    [InlineData("""{"errno":0,"retry":null}""")]
    [InlineData("""{"retry":[],"data":{"retry":[1]}}""")]
    public void ClassifyBatch_NothingToRetry_WholeBatchSucceeds(string body)
    {
        var retry = new List<long>();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body), retry);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.Empty(retry);
    }

    [Fact]
    public void ClassifyBatch_RetryList_SuccessWithThoseOffsets()
    {
        var retry = new List<long>();

        var (outcome, _) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, 200, """{"retry":[12,9],"errno":0}"""u8, retry);

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.Equal([12L, 9L], retry);
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
        var retry = new List<long>();

        var (outcome, reason) = ResponseClassifier.ClassifyBatch(ResponseCheck.Errno, status, Encoding.UTF8.GetBytes(body), retry);

        Assert.Equal(expected, outcome);
        Assert.StartsWith(reasonStart, reason, StringComparison.Ordinal);
        Assert.Empty(retry);
    }

    [Fact]
    public void ClassifyBatch_StatusCheck_BodyNotRead()
    {
        var retry = new List<long>();

        Assert.Equal(DeliveryOutcome.Success, ResponseClassifier.ClassifyBatch(ResponseCheck.Status, 204, """{"retry":[1]}"""u8, retry).Outcome);
        Assert.Empty(retry);
    }

    [Fact]
    public void Classify_SingleMessage_RetryPropertyIgnored()
    {
        Assert.Equal(DeliveryOutcome.Success, ResponseClassifier.Classify(ResponseCheck.Errno, 200, """{"errno":0,"retry":"x"}"""u8).Outcome);
    }
}
