using System.Text.Json;
using System.Text.RegularExpressions;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>
/// Logs, skip records, the API, the CLI, the dashboard and the metrics name an outcome with the same word (the metric's
/// label), and "in flight" means requests only: the messages fetched and not yet finished are "unfinished".
/// </summary>
public sealed partial class OneVocabularyTests
{
    public static TheoryData<DeliveryOutcome> Failures() =>
        [.. Enum.GetValues<DeliveryOutcome>().Where(o => o is not (DeliveryOutcome.Success or DeliveryOutcome.BadStatus or DeliveryOutcome.EndpointAction))];

    [Theory]
    [MemberData(nameof(Failures))]
    public void Describe_NamesTheOutcomeAsTheMetricLabelsIt_Issue19(DeliveryOutcome outcome)
    {
        var result = new DeliveryResult(outcome, "10.0.0.5:8080", TimeSpan.FromMilliseconds(3), 200, "why");

        var text = result.Describe();

        Assert.Contains(result.OutcomeLabel, ProxyMetrics.Outcomes);
        Assert.StartsWith(result.OutcomeLabel + (text.Contains(", not sent", StringComparison.Ordinal) ? ", not sent to " : " from ") + "10.0.0.5:8080: why", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DeliveryOutcome.Success, "success from 10.0.0.5:8080")]
    [InlineData(DeliveryOutcome.BadStatus, "HTTP 200 from 10.0.0.5:8080")]
    [InlineData(DeliveryOutcome.EndpointAction, "Kcp-Action: skip with HTTP 200 from 10.0.0.5:8080")]
    public void Describe_OfTheOtherOutcomes_HasNoEnumName_Issue19(DeliveryOutcome outcome, string expected)
    {
        var result = new DeliveryResult(outcome, "10.0.0.5:8080", TimeSpan.Zero, 200) { Action = EndpointAction.Skip };

        Assert.Equal(expected, result.Describe());
        Assert.DoesNotMatch(EnumName(), result.Describe());
    }

    [Fact]
    public void PartitionInfo_CallsFetchedButUnfinishedMessagesUnfinished_AndKeepsTheDeprecatedInFlight_Issue19()
    {
        var partition = new PartitionInfo("orders", 3, 0, 120, 100, 130, 30, 7, 113, DateTimeOffset.UnixEpoch, null, []);

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(partition, ControlJson.Options));

        Assert.Equal(7, json.RootElement.GetProperty("unfinished").GetInt32());
        Assert.Equal(7, json.RootElement.GetProperty("in_flight").GetInt32());
        var read = JsonSerializer.Deserialize<PartitionInfo>(json.RootElement.GetRawText(), ControlJson.Options)!;
        Assert.Equal(7, read.Unfinished);
    }

    [GeneratedRegex(@"\b(RejectedBody|ConnectTimeout|ConnectionError|RetryListed|DecodeError|RegistryUnavailable|TlsError|AuthError|BadStatus|EndpointAction)\b")]
    private static partial Regex EnumName();
}
