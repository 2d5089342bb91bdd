using System.Runtime.InteropServices;
using System.Text.Json;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// Readers of <c>skipped.jsonl</c> while a writer holds the exclusive flock it takes around every record (another kcp
/// process sharing the state directory, or this one mid-write): they read, they do not fail as "in use".
/// </summary>
public sealed partial class SkipFileReadersTests : IDisposable
{
    private const int LockEx = 2, LockNb = 4, ORdWr = 2;
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-skip-readers-").FullName;

    [Fact]
    public void WhileAWriterHoldsTheFlock_AdminApiAndFileReadsSeeTheRecords()
    {
        var path = Path.Combine(_stateDir, StateDirLayout.SkipLogFile);
        File.WriteAllText(path, """{"route":"r","topic":"t","partition":0,"offset":7}""" + "\n");
        var fd = open(path, ORdWr);
        Assert.True(fd >= 0, $"open failed: {Marshal.GetLastPInvokeError()}");
        try
        {
            Assert.Equal(0, flock(fd, LockEx | LockNb));

            using var listing = JsonDocument.Parse(AdminApi.ReadSkipped(path, null, 10));
            Assert.Equal(7, Assert.Single(listing.RootElement.EnumerateArray()).GetProperty("offset").GetInt64());
            Assert.Contains("\"offset\":7", File.ReadAllText(path), StringComparison.Ordinal);
        }
        finally
        {
            _ = close(fd);
        }
    }

    [Fact]
    public void KcpRuntimeConfig_DisablesDotNetsEmulatedFileLocks()
    {
        var directory = Path.GetDirectoryName(typeof(SkipLog).Assembly.Location)!;
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "kcp.runtimeconfig.json")));

        Assert.True(config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").GetProperty("System.IO.DisableFileLocking").GetBoolean());
    }

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
