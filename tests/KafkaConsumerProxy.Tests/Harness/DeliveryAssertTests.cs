namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>The set comparison behind every "nothing lost" assertion names what differs.</summary>
public sealed class DeliveryAssertTests
{
    [Fact]
    public void Compare_MissingRepeatedAndUnexpected_ListedAsPerPartitionRanges()
    {
        var expected = DeliveryAssert.Offsets(2, 10);
        var received = Requests((0, 0), (0, 1), (0, 1), (0, 1), (0, 5), (0, 6), (0, 7), (0, 8), (0, 9), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8), (1, 9), (1, 9), (3, 0));
        var comparison = DeliveryAssert.Compare(expected, received);

        Assert.Equal([(0, 2L), (0, 3L), (0, 4L)], comparison.Missing);
        Assert.Equal(3, comparison.RepeatCount);
        Assert.Equal([(3, 0L)], comparison.Unexpected);
        Assert.Equal(
            "20 expected, 21 accepted\nmissing 3: partition 0: 2-4\nrepeated 2 offset(s), 3 extra deliveries: partition 0: 1; partition 1: 9\nunexpected 1: partition 3: 0",
            comparison.ToString());
        Assert.Throws<Xunit.Sdk.TrueException>(() => DeliveryAssert.NoneLost(expected, received));
        Assert.Throws<Xunit.Sdk.TrueException>(() => DeliveryAssert.AllOnce(expected, received));
    }

    [Fact]
    public void Compare_FailedAttemptsDoNotCount()
    {
        var expected = DeliveryAssert.Offsets(1, 2);
        var received = Requests((0, 0), (0, 1)).Prepend(Request(0, 1) with { Fault = Fault.Status(500) }).ToList();
        DeliveryAssert.AllOnce(expected, received);
    }

    private static List<ReceivedRequest> Requests(params (int Partition, long Offset)[] offsets) =>
        offsets.Select(o => Request(o.Partition, o.Offset)).ToList();

    private static ReceivedRequest Request(int partition, long offset) => new()
    {
        Sequence = 0,
        ArrivedAt = TimeSpan.Zero,
        Method = "POST",
        Path = "/",
        Query = "",
        Headers = new Dictionary<string, string>(),
        Body = ReadOnlyMemory<byte>.Empty,
        Form = [],
        Partition = partition,
        Offset = offset,
    };
}
