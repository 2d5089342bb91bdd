using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>The failing messages the API shows: complete from the moment they are listed.</summary>
public sealed class FailingMessagesTests
{
    private static readonly KafkaRecord Head = new("t", 0, 7, 0, null, "v"u8.ToArray());

    [Fact]
    public void Entry_BeforeAnyUpdate_ShowsTheAttemptAndEveryOffsetItWasMadeFor_Issue23()
    {
        // The API may read an entry as soon as it is added, before any update: a batch's head then shows its offsets.
        var entry = new FailingEntry("r", Head, DateTimeOffset.UnixEpoch, 1, Failure(500), [7, 8, 9]);

        var shown = entry.Snapshot();

        Assert.Equal((1, 500), (shown.Attempts, shown.LastStatus));
        Assert.Equal([7L, 8, 9], shown.Offsets);
    }

    [Fact]
    public void Failed_SameMessageAgain_OneEntryWithTheLatestAttempt()
    {
        var failing = new FailingMessages();

        var first = failing.Failed("r", Head, 1, Failure(500), DateTimeOffset.UnixEpoch, [7, 8, 9]);
        var second = failing.Failed("r", Head, 2, Failure(503), DateTimeOffset.UnixEpoch.AddSeconds(1), [7, 8]);

        Assert.Same(first, second);
        var shown = Assert.Single(failing.All("r"));
        Assert.Equal((2, 503, DateTimeOffset.UnixEpoch), (shown.Attempts, shown.LastStatus, shown.FailingSince));
        Assert.Equal([7L, 8], shown.Offsets);
        failing.Finished(second);
        Assert.Empty(failing.All());
    }

    private static DeliveryResult Failure(int status) => new(DeliveryOutcome.BadStatus, "127.0.0.1:1", TimeSpan.FromMilliseconds(1), status);
}
