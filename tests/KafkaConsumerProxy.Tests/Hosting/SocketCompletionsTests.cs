using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Hosting;

/// <summary>
/// <c>socket_completions</c> (issue 22): an endpoint's answer handled on the socket thread that read it, the steps that
/// wait for the disk moved off that thread, and what is in effect said at the start.
/// </summary>
public sealed class SocketCompletionsTests : IClassFixture<TestCluster>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster;

    public SocketCompletionsTests(TestCluster cluster) => _cluster = cluster;

    [Theory]
    [InlineData("", "inline")]
    [InlineData("socket_completions: thread_pool", "thread_pool")]
    [InlineData("socket_completions: INLINE", "inline")]
    public void Load_GivenOrNot_Taken_InlineByDefault_Issue22(string main, string expected)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);
        config.AppendMain(main);

        Assert.Equal(expected, ConfigLoader.Load(config.ConfigFile).SocketCompletions);
    }

    [Theory]
    [InlineData("threadpool", "did you mean 'thread_pool'?")]
    [InlineData("true", "must be one of: inline, thread_pool")]
    public void Load_NotAChoice_ReportsFileKeyValueAndChoices_Issue22(string value, string expected)
    {
        using var config = new ProxyConfigWriter("127.0.0.1:9092");
        config.AddRoute("r", "t", "g", 8080);
        config.AppendMain($"socket_completions: {value}");

        var error = Assert.Single(Assert.Throws<ConfigException>(() => ConfigLoader.Load(config.ConfigFile)).Errors);

        Assert.Equal(config.ConfigFile, error.File);
        Assert.Contains($"'socket_completions' = '{value}'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TestHost_HandlesAnswersOnTheSocketThreads_AsKcpRunDoesByDefault_Issue22()
    {
        // test.runsettings sets the runtime's variable, so that the in-process proxies of every test run in the default mode.
        Assert.True(SocketCompletionMode.InEffect(), $"the test host should run with {SocketCompletionMode.Variable}=1 (test.runsettings)");
    }

    [Fact]
    public async Task OffSocketThread_FromAThreadOutsideThePool_ContinuesOnAPoolThread_Issue22()
    {
        var ran = new TaskCompletionSource<(bool Before, bool After)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => _ = HopAsync(ran)) { IsBackground = true };
        thread.Start();

        var (before, after) = await ran.Task.WaitAsync(Patience);

        Assert.False(before);
        Assert.True(after);
    }

    [Fact]
    public async Task OffSocketThread_OnAPoolThread_GoesOnAtOnce_Issue22()
    {
        // Completed: the await goes on synchronously, on the same thread, without queueing anything.
        Assert.True(await Task.Run(() => BlockingStep.OffSocketThread().IsCompleted));
    }

    [Fact]
    public async Task Skip_ReachedOutsideThePool_AppendsTheSkipRecordOnAPoolThread_Issue22()
    {
        var stateDir = Directory.CreateTempSubdirectory("kcp-skips-").FullName;
        try
        {
            using var skipLog = new SkipLog(stateDir);
            var appendedOnPool = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            skipLog.BeforeAppend = _ => appendedOnPool.TrySetResult(Thread.CurrentThread.IsThreadPoolThread);
            using var metrics = new ProxyMetrics(new FakeTimeProvider());
            var skipper = new MessageSkipper(Route(), skipLog, metrics, NullLogger.Instance, TimeProvider.System, null);
            var details = new SkipDetails(SkipKind.Auto, 3, DateTimeOffset.UnixEpoch, "HTTP 500", 500, null, DateTimeOffset.UnixEpoch);
            var skipped = new TaskCompletionSource<MessageDisposition>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() => _ = SkipAsync(skipper, details, skipped)) { IsBackground = true };
            thread.Start();

            Assert.Equal(MessageDisposition.Skipped, await skipped.Task.WaitAsync(Patience));
            Assert.True(await appendedOnPool.Task.WaitAsync(Patience), "the skip record was appended on a thread outside the pool");
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact]
    public async Task Finish_ReachedOutsideThePool_MovesToThePoolOnlyWhenItWaitsForTheFileSystem_Issue22()
    {
        var stateDir = Directory.CreateTempSubdirectory("kcp-record-").FullName;
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
            var store = new LocalOffsetStore(stateDir, NullLogger.Instance, time);
            var offsets = new PartitionOffsets(store.Open(new PartitionKey("c", "g", "t", 0), clusterId: null), DeliveryGuarantee.AtLeastOnce, -1);
            offsets.Track(0);
            offsets.Track(1);

            // A memory write only: the finish goes on where it was.
            Assert.False(await FinishOnOwnThreadAsync(offsets, 0));

            // A second later the write checks the file at its path (a stat; a re-creation when it is gone): on the pool.
            // The file is gone meanwhile: the check that moved to the pool is the one that writes it again.
            File.Delete(Assert.Single(Directory.GetFiles(Path.Combine(stateDir, StateDirLayout.OffsetsDirectory))));
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(await FinishOnOwnThreadAsync(offsets, 1));
            offsets.Record!.Dispose();
            Assert.Equal(2, store.Read(new PartitionKey("c", "g", "t", 0))!.Value.NextOffset);

            // Mode 3 flushes the record (an fsync) before the message counts as finished: always on the pool.
            var durable = new PartitionOffsets(store.Open(new PartitionKey("c", "g", "t", 1), clusterId: null), DeliveryGuarantee.NoRepeatOnOneMachine, -1);
            durable.Track(0);
            Assert.True(await FinishOnOwnThreadAsync(durable, 0));
            Assert.Equal(1, durable.CommitPosition);
            durable.Record!.Dispose();
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact]
    public async Task Run_Default_InlineAndSaysSo_ModeThreeAndSkipsDeliverEverything_ReloadNeedsARestart_Issue22()
    {
        var topic = _cluster.CreateTopic("sockinl", 2);
        // Offset 3 of partition 0 is refused for good: skipped after its retries, through the skip record.
        await using var receiver = await RecordingReceiver.StartAsync(FaultScript.ForMessage(0, 3, Fault.Status(500)));
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        var group = Names.Unique("g");
        config.AddRoute("r", topic, group, receiver.Port, new Dictionary<string, object>
        {
            ["message_delivery_guarantees"] = 3,
            ["can_skip"] = true,
            ["retry_nums"] = 1,
        });
        await _cluster.ProduceAsync(topic, Delivered.Numbered(2, 20));

        await using var kcp = KcpProcess.Run(config.ConfigFile, new Dictionary<string, string?> { [SocketCompletionMode.Variable] = null });
        var line = await kcp.WaitForOutputAsync("Socket completions:", Patience);
        Assert.Contains("Socket completions: inline (from socket_completions: inline)", line, StringComparison.Ordinal);
        await Delivered.WaitForCommittedAsync(_cluster.BootstrapServers, group, topic, 2, c => c.Values.All(o => o == 20), "all 40 committed", Patience);

        // Every message but the refused one accepted, the refused one in the skip record.
        var expected = DeliveryAssert.Offsets(new Dictionary<int, int> { [0] = 20, [1] = 20 }).Where(m => m != (0, 3)).ToHashSet();
        Assert.True(expected.SetEquals(receiver.Requests.Accepted().Select(r => (r.Partition!.Value, r.Offset!.Value))), "accepted: every offset of both partitions but 0@3");
        using var skip = JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(config.SkipFile)));
        Assert.Equal((0, 3L), (skip.RootElement.GetProperty("partition").GetInt32(), skip.RootElement.GetProperty("offset").GetInt64()));

        var text = await File.ReadAllTextAsync(config.ConfigFile);
        await File.WriteAllTextAsync(config.ConfigFile, text + "socket_completions: thread_pool\n");
        var reload = await kcp.WaitForOutputAsync("Reload: socket_completions changed", Patience);
        Assert.Contains("from inline to thread_pool; it applies only after a restart of kcp", reload, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("socket_completions: thread_pool\n", null, "Socket completions: thread_pool (from socket_completions: thread_pool)")]
    [InlineData("", "0", "Socket completions: thread_pool, not as socket_completions says (from the environment's DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0, over socket_completions: inline)")]
    [InlineData("socket_completions: thread_pool\n", "1", "Socket completions: inline, not as socket_completions says (from the environment's DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, over socket_completions: thread_pool)")]
    public async Task Run_ThreadPoolOrTheEnvironment_SaysWhatIsInEffect_Issue22(string main, string? environment, string expected)
    {
        var topic = _cluster.CreateTopic("sockpool", 1);
        await using var receiver = await RecordingReceiver.StartAsync();
        using var config = new ProxyConfigWriter(_cluster.BootstrapServers);
        config.AddRoute("r", topic, Names.Unique("g"), receiver.Port);
        config.AppendMain(main);
        await _cluster.ProduceAsync(topic, Delivered.Numbered(1, 5));

        await using var kcp = KcpProcess.Run(config.ConfigFile, new Dictionary<string, string?> { [SocketCompletionMode.Variable] = environment });
        var line = await kcp.WaitForOutputAsync("Socket completions:", Patience);

        Assert.Contains(expected, line, StringComparison.Ordinal);
        await DeliveryAssert.AllArrivedAsync(receiver, new Dictionary<int, int> { [0] = 5 }, Patience);
    }

    // Finishes offset on a thread outside the pool; true when the finish went on on a pool thread.
    private static Task<bool> FinishOnOwnThreadAsync(PartitionOffsets offsets, long offset)
    {
        var finished = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => _ = FinishAsync(offsets, offset, finished)) { IsBackground = true };
        thread.Start();
        return finished.Task.WaitAsync(Patience);
    }

    private static async Task FinishAsync(PartitionOffsets offsets, long offset, TaskCompletionSource<bool> finished)
    {
        await offsets.FinishAsync(offset);
        finished.SetResult(Thread.CurrentThread.IsThreadPoolThread);
    }

    private static async Task HopAsync(TaskCompletionSource<(bool, bool)> ran)
    {
        var before = Thread.CurrentThread.IsThreadPoolThread;
        await BlockingStep.OffSocketThread();
        ran.SetResult((before, Thread.CurrentThread.IsThreadPoolThread));
    }

    private static async Task SkipAsync(MessageSkipper skipper, SkipDetails details, TaskCompletionSource<MessageDisposition> skipped)
    {
        var record = new KafkaRecord("t", 0, 7, 0, null, Encoding.UTF8.GetBytes("v"));
        skipped.SetResult(await skipper.SkipAsync(record, details, CancellationToken.None));
    }

    private static RouteDefinition Route() => new()
    {
        Name = "r",
        SourceFile = "/tmp/r.yaml",
        Topic = "t",
        Group = "g",
        Endpoint = new EndpointSettings { Hosts = ["127.0.0.1"], Port = 80, Url = "/", ConnTimeoutMs = 1000, ExecTimeoutMs = 1000 },
        Retry = new RetrySettings { CanSkip = true, RetryNums = 0, RetryIntervalMs = 10 },
        Offsets = new OffsetSettings { UseSavedOffsetTime = 0 },
    };
}
