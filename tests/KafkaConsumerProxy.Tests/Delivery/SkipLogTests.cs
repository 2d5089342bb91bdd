using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// Skip records when the state directory fails: a full disk (a real, small tmpfs when this process may mount one), a
/// deleted directory, a torn tail, and several writers sharing the file (issue 7, section 4).
/// </summary>
public sealed class SkipLogTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-skips-").FullName;
    private readonly FakeLogger _logs = new();

    [Fact]
    public async Task Write_DiskFull_BlocksWithErrorAtOnceLeavesNoTornLineAndWritesOnceThereIsSpace_Issue7()
    {
        using var disk = SmallDisk.TryMount(256 * 1024);
        var stateDir = disk?.Directory ?? _stateDir;
        using var log = new SkipLog(stateDir, _logs);
        log.Write(Record(0, "first"));
        var full = false;
        string? filler = null;
        if (disk is not null)
        {
            filler = disk.Fill();
        }
        else
        {
            // No tmpfs here (mount not permitted): a failing write is simulated at the file level instead.
            log.BeforeAppend = _ =>
            {
                if (Volatile.Read(ref full))
                {
                    throw new IOException("No space left on device (simulated)");
                }
            };
            Volatile.Write(ref full, true);
        }

        // A record larger than what is left of the file's last page: on the full tmpfs the write is cut part-way.
        var writing = Task.Run(() => log.Write(Record(1, new string('x', 6000))));
        await _logs.Collector.WaitForAsync(l => l.Level == LogLevel.Error && l.Message.Contains("@1 could not be written", StringComparison.Ordinal), "the error that offset 1's skip record could not be written", Patience);
        Assert.False(writing.IsCompleted, "the skip must not count before its record is written");
        AssertWholeLines(log.Path, [0]);

        if (filler is not null)
        {
            File.Delete(filler);
        }
        else
        {
            Volatile.Write(ref full, false);
        }

        await writing.WaitAsync(Patience);
        AssertWholeLines(log.Path, [0, 1]);
        Assert.Contains(_logs.Collector.GetSnapshot(), l => l.Message.Contains("written to", StringComparison.Ordinal) && l.Message.Contains("failed attempt", StringComparison.Ordinal));
    }

    [Fact]
    public void Write_FileEndsInATornLine_NextRecordStartsOnALineOfItsOwn_Issue7()
    {
        File.WriteAllText(Path.Combine(_stateDir, StateDirLayout.SkipLogFile), "{\"time\":\"2026-01-01T00:00:00.000Z\",\"route\":\"r\",\"top");
        using (var log = new SkipLog(_stateDir, _logs))
        {
            log.Write(Record(5, "after a crash"));
        }

        var lines = File.ReadAllLines(Path.Combine(_stateDir, StateDirLayout.SkipLogFile));
        Assert.Equal(2, lines.Length);
        Assert.Equal(5, JsonDocument.Parse(lines[1]).RootElement.GetProperty("offset").GetInt64());
    }

    [Fact]
    public async Task Write_TwoWritersOnOneStateDirManyThreads_EveryLineWholeAndNoneLost_Issue7()
    {
        // Two logs open the file separately, as two processes do: each has its own descriptor and file position.
        const int PerThread = 200;
        using var a = new SkipLog(_stateDir, _logs);
        using var b = new SkipLog(_stateDir, _logs);
        var writers = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            var log = t % 2 == 0 ? a : b;
            for (var i = 0; i < PerThread; i++)
            {
                log.Write(Record((t * PerThread) + i, new string((char)('a' + t), 50 + (i % 300))));
            }
        })).ToArray();
        await Task.WhenAll(writers).WaitAsync(Patience);

        AssertWholeLines(a.Path, Enumerable.Range(0, 8 * PerThread).Select(o => (long)o).ToArray());
    }

    [Fact]
    public void Write_StateDirDeletedWhileRunning_RecreatedLoggedAndTheRecordKept_Issue7()
    {
        using var log = new SkipLog(_stateDir, _logs);
        log.Write(Record(0, "before"));
        Directory.Delete(_stateDir, recursive: true);

        log.Write(Record(1, "after"));

        AssertWholeLines(log.Path, [1]);
        Assert.Contains(_logs.Collector.GetSnapshot(), l => l.Level == LogLevel.Error && l.Message.Contains("was removed while running", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        if (Directory.Exists(_stateDir))
        {
            Directory.Delete(_stateDir, recursive: true);
        }
    }

    private static SkipRecord Record(long offset, string reason) =>
        new(DateTimeOffset.UnixEpoch, "r", "t", 0, offset, "k"u8.ToArray(), 1, reason, Manual: false);

    /// <summary>Every line of the file is a whole JSON record, and the offsets are exactly <paramref name="offsets"/>.</summary>
    private static void AssertWholeLines(string path, long[] offsets)
    {
        var text = File.ReadAllText(path);
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "the file ends in a torn line: ..." + text[Math.Max(0, text.Length - 80)..]);
        var seen = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            try
            {
                return JsonDocument.Parse(line).RootElement.GetProperty("offset").GetInt64();
            }
            catch (JsonException)
            {
                Assert.Fail("not a whole record: " + line[..Math.Min(120, line.Length)]);
                throw;
            }
        }).ToList();
        var missing = offsets.Except(seen).ToList();
        var repeated = seen.GroupBy(o => o).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(missing.Count == 0 && repeated.Count == 0 && seen.Count == offsets.Length,
            $"missing [{string.Join(",", missing.Take(20))}], repeated [{string.Join(",", repeated.Take(20))}], {seen.Count} lines for {offsets.Length} records");
    }
}
