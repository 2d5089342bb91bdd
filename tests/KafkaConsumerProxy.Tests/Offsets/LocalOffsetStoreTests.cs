using KafkaConsumerProxy.Offsets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Offsets;

public sealed class LocalOffsetStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kcp-store-").FullName;
    private readonly PartitionKey _key = new("default", "group/with:odd~chars", "orders", 3);

    private LocalOffsetStore Store(ILogger? logger = null) => new(_dir, logger ?? NullLogger.Instance, TimeProvider.System);

    [Fact]
    public void Write_ThenReadFromAnotherInstance_ReturnsLatestRecord()
    {
        using (var file = Store().Open(_key))
        {
            file.Write(41);
            file.Write(42);
        }

        var record = Store().Read(_key);
        Assert.Equal(42, record?.NextOffset);
        Assert.Equal(41, record?.LastDone);
        Assert.Null(Store().Read(_key with { Partition = 4 }));
    }

    [Fact]
    public void Write_VisibleToReadersWhileOpen_WithoutFlush()
    {
        // What a kill -9 leaves behind: the mapped page, not yet written back by the kernel.
        using var file = Store().Open(_key);
        file.Write(7);
        Assert.Equal(7, Store().Read(_key)?.NextOffset);
    }

    [Fact]
    public void Write_ManyPositions_FileStaysTheSameSmallSize()
    {
        using (var file = Store().Open(_key))
        {
            for (var i = 1; i <= 100_000; i++)
            {
                file.Write(i);
            }

            file.Flush();
        }

        Assert.Equal(100_000, Store().Read(_key)?.NextOffset);
        var files = Directory.GetFiles(Path.Combine(_dir, "offsets"));
        Assert.Equal(72, new FileInfo(Assert.Single(files)).Length);
    }

    [Fact]
    public void Read_OneSlotTorn_FallsBackToThePreviousRecord()
    {
        using (var file = Store().Open(_key))
        {
            file.Write(10);
            file.Write(11);
        }

        // Corrupt the slot of the newest write (sequence 2 → slot 0), as a crash mid-update would.
        var path = Directory.GetFiles(Path.Combine(_dir, "offsets")).Single();
        var bytes = File.ReadAllBytes(path);
        bytes[8 + 8] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        Assert.Equal(10, Store().Read(_key)?.NextOffset);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("both-slots")]
    [InlineData("other-partition")]
    public void Read_DamagedFile_ReportedAndTreatedAsAbsent(string damage)
    {
        using (var file = Store().Open(_key))
        {
            file.Write(41);
            file.Write(42);
        }

        var path = Directory.GetFiles(Path.Combine(_dir, "offsets")).Single();
        var bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "garbage":
                File.WriteAllBytes(path, "\0\0\0\0"u8.ToArray());
                break;
            case "truncated":
                File.WriteAllBytes(path, bytes[..40]);
                break;
            case "both-slots":
                bytes[8 + 9] ^= 0xFF;
                bytes[40 + 9] ^= 0xFF;
                File.WriteAllBytes(path, bytes);
                break;
            default:
                // A record copied to another partition's name must not be believed.
                File.Move(path, path.Replace("~3.offset", "~4.offset", StringComparison.Ordinal));
                break;
        }

        var logger = new ListLogger();
        var key = damage == "other-partition" ? _key with { Partition = 4 } : _key;
        Assert.Null(Store(logger).Read(key));
        Assert.Contains(logger.Lines, l => l.Contains("is damaged", StringComparison.Ordinal));

        // A damaged record is replaced by a fresh one when the partition is next owned.
        using (var file = Store().Open(key))
        {
            file.Write(5);
        }

        Assert.Equal(5, Store().Read(key)?.NextOffset);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
