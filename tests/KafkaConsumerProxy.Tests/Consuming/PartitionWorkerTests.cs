using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Consuming;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Offsets;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace KafkaConsumerProxy.Tests.Consuming;

/// <summary>
/// One partition worker against a real endpoint: fault handling, and pausing at the count and byte bounds, applied by
/// its session to a recorder that stands for the consumer (the worker itself never touches the consumer).
/// </summary>
public sealed class PartitionWorkerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Fault_InOneDelivery_LoggedWithOffsetAndStackAndWorkerReportsItselfForRestartAtTheFaultedOffset_Issue7()
    {
        var topic = Names.Unique("worker-fault");
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var fixture = new Fixture(topic, receiver.Port);
        using var fault = InjectedFaults.Register(topic, r => r.Offset == 2);
        var faulted = new ConcurrentQueue<PartitionWorker>();
        var progress = new PartitionOffsets();
        var worker = fixture.Worker(progress, faulted: faulted.Enqueue);

        worker.Start();
        for (var offset = 0; offset < 6; offset++)
        {
            worker.Enqueue(Record(topic, offset, 10));
        }

        await worker.Stopped.WaitAsync(Patience);
        // The worker reports itself just after its Stopped task completes, from its own thread.
        await Eventually.ValueAsync(() => faulted.Count, n => n > 0, "the worker reported itself faulted", Patience);

        Assert.Same(worker, Assert.Single(faulted));
        Assert.IsType<InjectedFaultException>(worker.Fault);
        var line = Assert.Single(fixture.Logs.Collector.GetSnapshot(), l => l.Level == LogLevel.Error);
        Assert.Contains($"{topic}/0@2", line.Message, StringComparison.Ordinal);
        Assert.Contains("route w", line.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(line.Exception?.StackTrace);
        // Sync delivery: nothing after the faulted message was sent.
        Assert.Equal([0L, 1L], receiver.Requests.Select(r => r.Offset!.Value).Order());

        var seekTo = progress.Restart();
        var successor = progress;
        Assert.Equal(2, seekTo);
        Assert.Equal(2, successor.CommitPosition);
        Assert.Equal(0, successor.Pending);
    }

    [Fact]
    public async Task Fault_AsyncWithOthersInFlight_RestartPositionIsTheOldestUnfinished_Issue7()
    {
        var topic = Names.Unique("worker-fault-async");
        var release = new ManualResetEventSlim();
        var holding = new TaskCompletionSource();
        // Offset 3 is held until released; 5 faults meanwhile.
        await using var receiver = await RecordingReceiver.StartAsync(r =>
        {
            if (r.Offset == 3)
            {
                holding.TrySetResult();
                release.Wait(Patience);
            }

            return Fault.None;
        });
        await using var fixture = new Fixture(topic, receiver.Port, asyncConcurrency: 4);
        using var fault = InjectedFaults.Register(topic, r => r.Offset == 5);
        var progress = new PartitionOffsets();
        var worker = fixture.Worker(progress);

        worker.Start();
        for (var offset = 0; offset < 6; offset++)
        {
            worker.Enqueue(Record(topic, offset, 10));
        }

        await holding.Task.WaitAsync(Patience);
        await fixture.Logs.Collector.WaitForAsync(l => l.Level == LogLevel.Error, "an error logged", Patience);
        // The worker waits for the deliveries in flight before it reports itself stopped.
        Assert.False(worker.Stopped.IsCompleted);
        release.Set();
        await worker.Stopped.WaitAsync(Patience);

        var seekTo = progress.Restart();
        // 0-2 are finished; 5 never is; 3 and 4 may finish or be abandoned. Fetching resumes at the oldest unfinished.
        Assert.InRange(seekTo, 3, 5);
        Assert.Equal(progress.CommitPosition, seekTo);
    }

    [Fact]
    public async Task CountBound_EndpointHolding_PausesAtMaxPendingAndResumesAtHalfWithASeekToTheClientsPosition_Issue12()
    {
        var topic = Names.Unique("worker-count");
        using var release = new ManualResetEventSlim();
        await using var receiver = await HoldingReceiverAsync(release);
        await using var fixture = new Fixture(topic, receiver.Port, maxPending: 4);
        var progress = new PartitionOffsets();
        var session = fixture.Session(progress);
        var worker = session.Worker;
        fixture.Consumer.PendingNow = () => progress.Pending;
        fixture.Consumer.PositionNow = () => new Offset(4);

        for (var offset = 0; offset < 4; offset++)
        {
            Assert.Empty(fixture.Consumer.Calls);
            worker.Enqueue(Record(topic, offset, 10));
            fixture.Apply(session);
        }

        Assert.Equal([("Pause", 4)], fixture.Consumer.Calls);
        Assert.True(worker.IsPaused);
        release.Set();
        await Eventually.TrueAsync(() => fixture.Apply(session) && progress.Pending == 0 && !session.FetchPaused, "nothing pending, fetching again", Patience, () => $"{progress.Pending} pending, fetch paused {session.FetchPaused}");
        var calls = fixture.Consumer.Calls;
        Assert.Equal(2, calls.Count);
        Assert.Equal("Resume", calls[1].Method);
        Assert.True(calls[1].Pending <= 2, $"resumed with {calls[1].Pending} pending; half of max_pending is 2");
        // The client's broker thread would start the resumed fetch only at its next wake-up; the seek starts it now.
        Assert.Equal([4L], fixture.Consumer.Seeks);
        await worker.StopAsync().WaitAsync(Patience);
    }

    [Fact]
    public async Task Enqueue_AnOffsetAlreadyEnqueuedComesAgain_DroppedAndEachDeliveredOnce_Issue12()
    {
        // The race a resume's seek can have with the consumer thread: the client returns a message once more.
        var topic = Names.Unique("worker-twice");
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var fixture = new Fixture(topic, receiver.Port);
        var progress = new PartitionOffsets();
        var worker = fixture.Worker(progress);

        worker.Start();
        foreach (var offset in new long[] { 0, 1, 2, 1, 2, 3 })
        {
            worker.Enqueue(Record(topic, offset, 10));
        }

        await Eventually.ValueAsync(() => progress.CommitPosition, p => p == 4, "commit position 4", Patience);
        await worker.StopAsync().WaitAsync(Patience);
        Assert.Equal([0L, 1L, 2L, 3L], receiver.Requests.Select(r => r.Offset!.Value));
    }

    [Fact]
    public async Task ByteBound_EndpointHolding_PausesWhenBytesReachTheBoundAndResumesAtHalf_Issue7()
    {
        var topic = Names.Unique("worker-bytes");
        using var release = new ManualResetEventSlim();
        await using var receiver = await HoldingReceiverAsync(release);
        await using var fixture = new Fixture(topic, receiver.Port, maxPending: 1000, asyncConcurrency: 8);
        var bytes = new PendingBytes(1000);
        var progress = new PartitionOffsets();
        var session = fixture.Session(progress, bytes);
        var worker = session.Worker;
        fixture.Consumer.PendingNow = () => (int)bytes.Total;

        // 2 bytes of key + 398 of value: 400 a message, the third reaches the bound of 1000.
        worker.Enqueue(Record(topic, 0, 398));
        worker.Enqueue(Record(topic, 1, 398));
        fixture.Apply(session);
        Assert.Empty(fixture.Consumer.Calls);
        worker.Enqueue(Record(topic, 2, 398));
        fixture.Apply(session);
        Assert.Equal([("Pause", 1200)], fixture.Consumer.Calls);

        release.Set();
        await Eventually.TrueAsync(() => fixture.Apply(session) && progress.Pending == 0 && !session.FetchPaused, "nothing pending, fetching again", Patience, () => $"{progress.Pending} pending, fetch paused {session.FetchPaused}");
        var resume = fixture.Consumer.Calls[1];
        Assert.Equal("Resume", resume.Method);
        Assert.True(resume.Pending <= 500, $"resumed with {resume.Pending} bytes pending; half the bound is 500");
        Assert.Equal(0, bytes.Total);
        Assert.Equal(1200, bytes.Peak);
        await worker.StopAsync().WaitAsync(Patience);
    }

    [Fact]
    public async Task ByteBound_OneMessageLargerThanTheBound_StillDeliveredAndFetchingResumes_Issue7()
    {
        var topic = Names.Unique("worker-big");
        using var release = new ManualResetEventSlim();
        // Held until the pause is seen: an answer before the consume loop's next look would release the bytes first.
        await using var receiver = await HoldingReceiverAsync(release);
        await using var fixture = new Fixture(topic, receiver.Port);
        var bytes = new PendingBytes(1024);
        var progress = new PartitionOffsets();
        var session = fixture.Session(progress, bytes);
        var worker = session.Worker;

        worker.Enqueue(Record(topic, 0, 100_000));
        fixture.Apply(session);
        Assert.Equal(["Pause"], fixture.Consumer.Calls.Select(c => c.Method));
        release.Set();
        await Eventually.TrueAsync(() => fixture.Apply(session) && progress.CommitPosition == 1 && !session.FetchPaused, "commit position 1, fetching again", Patience, () => $"commit position {progress.CommitPosition}, fetch paused {session.FetchPaused}");

        Assert.Equal(["Pause", "Resume"], fixture.Consumer.Calls.Select(c => c.Method));
        Assert.Equal(0, bytes.Total);
        await worker.StopAsync().WaitAsync(Patience);
    }

    [Fact]
    public async Task ByteBound_WorkerStoppedWithMessagesPending_ReleasesTheirBytes_Issue7()
    {
        var topic = Names.Unique("worker-bytes-stop");
        await using var receiver = await RecordingReceiver.StartAsync(_ => Fault.Status(503));
        await using var fixture = new Fixture(topic, receiver.Port);
        var bytes = new PendingBytes(1_000_000);
        var worker = fixture.Worker(new PartitionOffsets(), bytes);

        worker.Start();
        for (var offset = 0; offset < 5; offset++)
        {
            worker.Enqueue(Record(topic, offset, 1000));
        }

        await receiver.WaitForCountAsync(2, Patience);
        await worker.StopAsync().WaitAsync(Patience);

        // Abandoned messages are fetched again by the next owner; here they would otherwise hold the bound forever.
        Assert.Equal(0, bytes.Total);
        worker.Enqueue(Record(topic, 5, 1000));
        Assert.Equal(0, bytes.Total);
    }

    internal static KafkaRecord Record(string topic, long offset, int valueBytes) =>
        new(topic, 0, offset, 0, Encoding.UTF8.GetBytes("k" + (offset % 10)), new byte[valueBytes]);

    /// <summary>An endpoint that holds every request until <paramref name="release"/> is set, then accepts it.</summary>
    private static Task<RecordingReceiver> HoldingReceiverAsync(ManualResetEventSlim release) =>
        RecordingReceiver.StartAsync(_ =>
        {
            release.Wait(Patience);
            return Fault.None;
        });

    /// <summary>
    /// A deliverer for a one-partition route on a real endpoint, and the recorder that stands for the consumer; the test
    /// is the consume loop that applies what a session's worker asks (<see cref="Apply"/>).
    /// </summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-worker-").FullName;
        private readonly HttpDeliverer _http;
        private readonly SkipLog _skipLog;
        private readonly ProxyMetrics _metrics = new(TimeProvider.System);
        private readonly MessageDeliverer _deliverer;
        private readonly SemaphoreSlim? _inFlight;
        private readonly RouteDefinition _route;

        public Fixture(string topic, int port, int maxPending = 10_000, int asyncConcurrency = 0)
        {
            var route = new RouteDefinition
            {
                Name = "w",
                SourceFile = "w.yaml",
                Topic = topic,
                Group = "g",
                Concurrency = 1,
                Endpoint = new EndpointSettings { Hosts = ["127.0.0.1"], Port = port, Url = "/consume", ConnTimeoutMs = 1000, ExecTimeoutMs = 30_000 },
                Retry = new RetrySettings { CanSkip = false, RetryNums = 3, RetryIntervalMs = 10 },
                Offsets = new OffsetSettings { UseSavedOffsetTime = 0 },
                Delivery = new DeliverySettings { MaxPending = maxPending, AsyncConcurrency = asyncConcurrency, Ordering = DeliveryOrdering.None },
            };
            _http = new HttpDeliverer(route);
            _skipLog = new SkipLog(_stateDir);
            _deliverer = new MessageDeliverer(route, _http, _skipLog, new ManualSkipSignal(), _metrics, Logs, TimeProvider.System);
            _inFlight = asyncConcurrency > 0 ? new SemaphoreSlim(asyncConcurrency, asyncConcurrency) : null;
            _route = route;
            Topic = topic;
        }

        public string Topic { get; }

        public FakeLogger Logs { get; } = new();

        public ConsumerRecorder Consumer { get; } = ConsumerRecorder.Create();

        public PartitionWorker Worker(PartitionOffsets progress, PendingBytes? bytes = null, Action<PartitionWorker>? faulted = null) =>
            new(new TopicPartition(Topic, 0), progress, _deliverer, _inFlight, bytes, Logs, faulted);

        /// <summary>A session of partition 0 on <paramref name="progress"/>, its worker started.</summary>
        public PartitionSession Session(PartitionOffsets progress, PendingBytes? bytes = null)
        {
            var committer = new OffsetCommitter(_route.Name, 0, TimeSpan.FromSeconds(1), Logs, TimeProvider.System);
            var parts = new MemberParts(_route, 0, _deliverer, _inFlight, bytes ?? new PendingBytes(long.MaxValue), committer, _metrics, Logs, TimeProvider.System, _ => { }, _ => { }, () => false);
            return new PartitionSession(parts, new TopicPartition(Topic, 0), progress, -1, -1);
        }

        /// <summary>Applies what the session's worker asks for to the recorder, as the consume loop does; always true.</summary>
        public bool Apply(PartitionSession session)
        {
            session.ApplyFetch((IConsumer<byte[]?, byte[]?>)(object)Consumer);
            return true;
        }

        public ValueTask DisposeAsync()
        {
            _http.Dispose();
            _skipLog.Dispose();
            _metrics.Dispose();
            _inFlight?.Dispose();
            Directory.Delete(_stateDir, recursive: true);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// Stands for <see cref="IConsumer{TKey, TValue}"/>: records Pause, Resume and Seek, answers Position with
/// <see cref="PositionNow"/>, refuses everything else (a session's fetch pause uses nothing else).
/// </summary>
public class ConsumerRecorder : DispatchProxy
{
    private readonly ConcurrentQueue<(string Method, int Pending)> _calls = new();
    private readonly ConcurrentQueue<long> _seeks = new();

    /// <summary>The client's position the worker is told (unset by default: the worker then does not seek).</summary>
    public Func<Offset> PositionNow { get; set; } = () => Offset.Unset;

    /// <summary>The offsets of every Seek, in order.</summary>
    public IReadOnlyList<long> Seeks => [.. _seeks];

    /// <summary>What the recorded calls note as "pending" (a count or bytes, as the test chooses).</summary>
    public Func<int> PendingNow { get; set; } = () => -1;

    public IReadOnlyList<(string Method, int Pending)> Calls => [.. _calls];

    public static ConsumerRecorder Create() => (ConsumerRecorder)(object)Create<IConsumer<byte[]?, byte[]?>, ConsumerRecorder>();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod?.Name is "Pause" or "Resume")
        {
            _calls.Enqueue((targetMethod.Name, PendingNow()));
            return null;
        }

        if (targetMethod?.Name == "Position")
        {
            return PositionNow();
        }

        if (targetMethod?.Name == "Seek" && args?[0] is TopicPartitionOffset to)
        {
            _seeks.Enqueue(to.Offset.Value);
            return null;
        }

        throw new NotSupportedException($"the session is not expected to call {targetMethod?.Name}");
    }
}
