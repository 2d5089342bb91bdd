using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Offsets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Offsets;

public sealed class LocalOffsetStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kcp-store-").FullName;
    private const string ClusterId = "lkc-4bIlhX9rTtWZsP2VqPwZ1Q";
    private readonly PartitionKey _key = new("default", "group/with:odd~chars", "orders", 3);

    private LocalOffsetStore Store(ILogger? logger = null) => new(_dir, logger ?? NullLogger.Instance, TimeProvider.System);

    [Fact]
    public void Write_ThenReadFromAnotherInstance_ReturnsLatestRecord()
    {
        using (var file = Store().Open(_key, ClusterId))
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
        using var file = Store().Open(_key, ClusterId);
        file.Write(7);
        Assert.Equal(7, Store().Read(_key)?.NextOffset);
    }

    [Fact]
    public void Write_ManyPositions_FileStaysTheSameSmallSize()
    {
        using (var file = Store().Open(_key, ClusterId))
        {
            for (var i = 1; i <= 100_000; i++)
            {
                file.Write(i);
            }

            file.Flush();
        }

        Assert.Equal(100_000, Store().Read(_key)?.NextOffset);
        var files = Directory.GetFiles(Path.Combine(_dir, "offsets"));
        Assert.Equal(216, new FileInfo(Assert.Single(files)).Length);
    }

    [Fact]
    public void Read_OneSlotTorn_FallsBackToThePreviousRecord()
    {
        using (var file = Store().Open(_key, ClusterId))
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
        using (var file = Store().Open(_key, ClusterId))
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
                bytes[8 + 104 + 9] ^= 0xFF;
                File.WriteAllBytes(path, bytes);
                break;
            default:
                // A record copied to another partition's name must not be believed.
                File.Move(path, path.Replace("~3.offset", "~4.offset", StringComparison.Ordinal));
                break;
        }

        var logger = new FakeLogger();
        var key = damage == "other-partition" ? _key with { Partition = 4 } : _key;
        Assert.Null(Store(logger).Read(key));
        Assert.Contains(logger.Collector.GetSnapshot(), l => l.Message.Contains("is damaged", StringComparison.Ordinal));

        // A damaged record is replaced by a fresh one when the partition is next owned.
        using (var file = Store().Open(key, ClusterId))
        {
            file.Write(5);
        }

        Assert.Equal(5, Store().Read(key)?.NextOffset);
    }

    [Fact]
    public void Write_StoresTheClusterId_ReadBackWithTheRecord_Issue7()
    {
        using (var file = Store().Open(_key, ClusterId))
        {
            file.Write(42);
        }

        Assert.Equal(ClusterId, Store().Read(_key)?.ClusterId);
    }

    [Fact]
    public void Read_ClusterIdBytesTampered_SlotRejected_Issue7()
    {
        using (var file = Store().Open(_key, ClusterId))
        {
            file.Write(10);
            file.Write(11);
        }

        // The newest write (sequence 2) is in slot 0; its cluster id starts 32 bytes into the slot.
        var path = Directory.GetFiles(Path.Combine(_dir, "offsets")).Single();
        var bytes = File.ReadAllBytes(path);
        bytes[8 + 32] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        Assert.Equal(new LocalRecord(10, Store().Read(_key)!.Value.Updated, ClusterId), Store().Read(_key));
    }

    [Fact]
    public void Open_UnknownClusterId_RecordKeepsItsOwnUntilDiscarded_Issue7()
    {
        using (var file = Store().Open(_key, ClusterId))
        {
            file.Write(5);
        }

        using (var file = Store().Open(_key, clusterId: null))
        {
            file.Write(6);
        }

        Assert.Equal(ClusterId, Store().Read(_key)?.ClusterId);
        using (var file = Store().Open(_key, clusterId: null))
        {
            file.Discard();
            file.Write(7);
        }

        Assert.Equal(new LocalRecord(7, Store().Read(_key)!.Value.Updated, null), Store().Read(_key));
    }

    [Fact]
    public void Discard_ThenWriteLowerOffset_RecordStartsOverWithTheNewClusterId_Issue7()
    {
        using (var file = Store().Open(_key, "cluster-a"))
        {
            file.Write(300);
        }

        using (var file = Store().Open(_key, "cluster-b"))
        {
            Assert.Equal(300, file.Initial?.NextOffset);
            Assert.Equal("cluster-a", file.Initial?.ClusterId);
            file.Discard();

            // Discarded and not yet written: nothing is left to be believed after a crash here.
            Assert.Null(Store().Read(_key));
            file.Write(1);
        }

        var record = Store().Read(_key);
        Assert.Equal(1, record?.NextOffset);
        Assert.Equal("cluster-b", record?.ClusterId);
    }

    [Fact]
    public void WriteNow_BelowTheRecord_ReplacesIt_Issue7()
    {
        Store().WriteNow(_key, 999_999, ClusterId);
        Store().WriteNow(_key, 6, ClusterId);
        Assert.Equal(6, Store().Read(_key)?.NextOffset);
    }

    [Fact]
    public void Read_PreviousFormatFile_ClusterUnknown_ConvertedWhenOpened_Issue7()
    {
        var updated = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        Store().WriteNow(_key, 1, ClusterId);
        var path = Directory.GetFiles(Path.Combine(_dir, "offsets")).Single();
        File.WriteAllBytes(path, OffsetRecordFile.FormatV1(_key, 42, updated));
        Assert.Equal(new LocalRecord(42, updated, null), Store().Read(_key));

        using (var file = Store().Open(_key, ClusterId))
        {
            Assert.Equal(new LocalRecord(42, updated, null), file.Initial);
        }

        // Rewritten in the current format, still holding the old record (no cluster id) until the next write.
        Assert.Equal(216, new FileInfo(path).Length);
        Assert.Equal(new LocalRecord(42, updated, null), Store().Read(_key));
        using (var file = Store().Open(_key, ClusterId))
        {
            file.Write(43);
        }

        Assert.Equal(ClusterId, Store().Read(_key)?.ClusterId);
    }

    [Fact]
    public void StoredClusterId_LongId_DigestOfFixedLength_Issue7()
    {
        var id = new string('x', 200);
        var stored = LocalRecord.StoredClusterId(id);
        Assert.StartsWith("sha256:", stored, StringComparison.Ordinal);
        Assert.Equal(63, stored!.Length);
        Assert.NotEqual(stored, LocalRecord.StoredClusterId(id + "y"));
        Assert.Null(LocalRecord.StoredClusterId(""));
        Assert.Equal("abc", LocalRecord.StoredClusterId("abc"));

        Store().WriteNow(_key, 3, id);
        Assert.Equal(stored, Store().Read(_key)?.ClusterId);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
