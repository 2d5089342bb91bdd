using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// The <c>errno</c> response check on a 2xx answer, value by value: the table docs/CONFIGURATION.md's Success section states.
/// </summary>
public sealed class ErrnoCheckTests
{
    [Theory]
    [InlineData("""{"errno":0}""")]
    [InlineData("""{"errno":0.0}""")]
    [InlineData("""{"errno":-0}""")]
    [InlineData("""{"errno":false}""")]
    [InlineData("""{"errno":""}""")]
    [InlineData("""{"errno":"0"}""")]
    [InlineData("""{"errno":null}""")]
    [InlineData("""{}""")]
    [InlineData("""{"msg":"ok"}""")]
    [InlineData("""{"data":{"errno":1}}""")]
    public void Classify_ErrnoAbsentOrFalsy_Delivered_Issue16(string body)
    {
        var (outcome, reason) = ResponseClassifier.Classify(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body));

        Assert.Equal(DeliveryOutcome.Success, outcome);
        Assert.Null(reason);
    }

    [Theory]
    [InlineData("""{"errno":1}""", "errno 1")]
    [InlineData("""{"errno":-1}""", "errno -1")]
    [InlineData("""{"errno":"1"}""", "errno \"1\"")]
    [InlineData("""{"errno":true}""", "errno true")]
    [InlineData("""{"errno":"0.0"}""", "errno \"0.0\"")]
    [InlineData("""{"errno":" "}""", "errno \" \"")]
    [InlineData("""{"errno":"false"}""", "errno \"false\"")]
    [InlineData("""{"errno":[]}""", "errno StartArray")]
    [InlineData("""{"errno":{}}""", "errno StartObject")]
    [InlineData("""{"errno":[0]}""", "errno StartArray")]
    public void Classify_ErrnoSet_RejectedBodyNamingTheValue_Issue16(string body, string named)
    {
        var (outcome, reason) = ResponseClassifier.Classify(ResponseCheck.Errno, 200, Encoding.UTF8.GetBytes(body));

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.Equal($"{named}: {body}", reason);
    }
}
