using KafkaConsumerProxy.Offsets;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Offsets;

public sealed class LocalOffsetStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kcp-store-").FullName;
    private readonly PartitionKey _key = new("default", "group/with:odd~chars", "orders", 3);

    [Fact]
    public async Task RecordDurable_ThenRead_ReturnsRecordFromAnotherInstance()
    {
        await using (var store = new LocalOffsetStore(_dir, NullLogger.Instance, TimeProvider.System))
        {
            await store.RecordDurableAsync(_key, 42);
        }

        await using var reopened = new LocalOffsetStore(_dir, NullLogger.Instance, TimeProvider.System);
        var record = reopened.Read(_key);
        Assert.Equal(42, record?.NextOffset);
        Assert.Equal(41, record?.LastDone);
        Assert.Null(reopened.Read(_key with { Partition = 4 }));
    }

    [Fact]
    public async Task Record_ManyPositions_BatchedToTheHighestAndFlushedOnDispose()
    {
        await using (var store = new LocalOffsetStore(_dir, NullLogger.Instance, TimeProvider.System))
        {
            for (var i = 1; i <= 10_000; i++)
            {
                store.Record(_key, i);
            }

            store.Record(_key, 5);
        }

        await using var reopened = new LocalOffsetStore(_dir, NullLogger.Instance, TimeProvider.System);
        Assert.Equal(10_000, reopened.Read(_key)?.NextOffset);
        var files = Directory.GetFiles(Path.Combine(_dir, "offsets"));
        Assert.Single(files);
        Assert.True(new FileInfo(files[0]).Length < 512, "a record stays one small file however long it runs");
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("edited")]
    public async Task Read_DamagedFile_ReportedAndTreatedAsAbsent(string damage)
    {
        await using (var store = new LocalOffsetStore(_dir, NullLogger.Instance, TimeProvider.System))
        {
            await store.RecordDurableAsync(_key, 42);
        }

        var file = Directory.GetFiles(Path.Combine(_dir, "offsets")).Single();
        var text = await File.ReadAllTextAsync(file);
        await File.WriteAllTextAsync(file, damage switch
        {
            "" => "",
            "garbage" => "\0\0\0\0",
            "truncated" => text[..(text.Length / 2)],
            _ => text.Replace("42", "43", StringComparison.Ordinal),
        });

        var logger = new ListLogger();
        await using var reopened = new LocalOffsetStore(_dir, logger, TimeProvider.System);
        Assert.Null(reopened.Read(_key));
        Assert.Contains(logger.Lines, l => l.Contains("is damaged", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
