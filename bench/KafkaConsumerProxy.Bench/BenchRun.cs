using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Confluent.Kafka;
using KafkaConsumerProxy.Embedded;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// One benchmark run: publishes kcp and the receiver, starts the embedded cluster and the receiver, runs each
/// selected scenario with its own topic, consumer group and kcp process, and prints the report. Every wait is
/// bounded; every child process is killed when the run ends, however it ends.
/// </summary>
internal sealed class BenchRun
{
    // Often enough to place the first and last delivery within 1% of a multi-second window, seldom enough that the
    // polling (an HTTP request and a few /proc reads) costs little of the two cores.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>The thread librdkafka runs the mock cluster on.</summary>
    private const string MockClusterThread = "rdk:mock";
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The async scenario's route keys. <c>ordering: key</c> is the default with async_concurrency, but it is written
    /// out: the key is new with async delivery, so a build without async delivery fails <c>kcp validate</c> on it
    /// (async_concurrency itself was accepted, and ignored, before).
    /// </summary>
    private static readonly IReadOnlyDictionary<string, object> AsyncKeys = new Dictionary<string, object>
    {
        ["async_concurrency"] = 64,
        ["ordering"] = "key",
    };

    /// <summary>
    /// The async scenario on one group member: all eight partitions on one consumer thread and one in-flight limit of
    /// 64, against the four members (and 4 × 64 slots) of the async scenario.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, object> AsyncOneMemberKeys = new Dictionary<string, object>(AsyncKeys)
    {
        ["concurrency"] = 1,
    };

    private readonly BenchOptions _options;
    private readonly MockKafkaCluster _cluster;
    private readonly ReceiverClient _receiver;

    /// <summary>The receiver of the throughput scenarios and the HTTP ceilings: nginx, or Kestrel with <c>--receiver kestrel</c>.</summary>
    private readonly IReceiver _endpoint;
    private readonly Kcp _kcp;
    private readonly string _work;
    private readonly string _runId;
    private readonly CancellationToken _cancel;
    private readonly Stopwatch _clock;
    private readonly TextWriter _out = Console.Out;
    private readonly IReadOnlyList<int> _mockThreads;
    private string? _syncTopic;

    private BenchRun(BenchOptions options, MockKafkaCluster cluster, ReceiverClient receiver, IReceiver endpoint, Kcp kcp, string work, Stopwatch clock, CancellationToken cancel)
    {
        _options = options;
        _cluster = cluster;
        _receiver = receiver;
        _endpoint = endpoint;
        _kcp = kcp;
        _work = work;
        _clock = clock;
        _cancel = cancel;
        _runId = TimeProvider.System.GetUtcNow().ToString("HHmmss", CultureInfo.InvariantCulture);
        _mockThreads = ProcFs.FindThreads(Environment.ProcessId, MockClusterThread);
    }

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancel)
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => ChildProcess.KillAll());
        var output = Console.Out;
        var clock = Stopwatch.StartNew();
        var work = Directory.CreateTempSubdirectory("kcp-bench-").FullName;
        try
        {
            PrintHeader(output, options, work);
            var repo = FindRepositoryRoot();
            // With --publish-dir the builds are made once and reused by later runs (A/B runs of the same build).
            var published = options.PublishDirectory ?? work;
            var kcpDir = Path.Combine(published, "kcp");
            if (options.PublishDirectory is null || !File.Exists(Path.Combine(kcpDir, "kcp")))
            {
                Step(output, clock, "publishing kcp (Release) ...");
                kcpDir = await PublishAsync(Path.Combine(repo, "src", "KafkaConsumerProxy", "KafkaConsumerProxy.csproj"), kcpDir, work,
                    options.ReleaseBuild ? ["-r", RuntimeInformation.RuntimeIdentifier, "--self-contained", "false"] : []).ConfigureAwait(false);
            }
            else
            {
                Step(output, clock, $"kcp as published before in {kcpDir} (--publish-dir)");
            }

            var receiverDir = Path.Combine(published, "receiver");
            if (options.PublishDirectory is null || !File.Exists(Path.Combine(receiverDir, "KafkaConsumerProxy.Bench.Receiver")))
            {
                Step(output, clock, "publishing the receiver (Release) ...");
                receiverDir = await PublishAsync(Path.Combine(repo, "bench", "KafkaConsumerProxy.Bench.Receiver", "KafkaConsumerProxy.Bench.Receiver.csproj"), receiverDir, work).ConfigureAwait(false);
            }

            using var cluster = MockKafkaCluster.Start(options.Brokers);

            // Like a real broker's group.initial.rebalance.delay.ms (MockKafkaCluster.Start sets 0 for tests): kcp's
            // 4 members then form the group in one rebalance. With 0 the first member takes every partition and the
            // others force a second rebalance, which the mock holds for session.timeout.ms - 1 s.
            cluster.SetGroupInitialRebalanceDelay(3000);
            using var receiver = await ReceiverClient.StartAsync(Path.Combine(receiverDir, "KafkaConsumerProxy.Bench.Receiver"), options.SlowDelayMs).ConfigureAwait(false);
            Step(output, clock, $"mock cluster {cluster.BootstrapServers} ({options.Brokers} broker(s), librdkafka {Library.VersionString}); Kestrel receiver {receiver.BaseAddress} (pid {receiver.Process.Id})");
            using var nginx = options.Receiver == "nginx" ? await StartNginxAsync(work).ConfigureAwait(false) : null;
            if (nginx is not null)
            {
                Step(output, clock, $"nginx receiver {nginx.BaseAddress} (pid {nginx.Process.Id}, one process, config {Path.Combine(work, "nginx", "nginx.conf")}) for the throughput scenarios and the HTTP ceilings");
            }

            var run = new BenchRun(options, cluster, receiver, (IReceiver?)nginx ?? receiver, new Kcp(Path.Combine(kcpDir, "kcp"), options.KcpEnvironment), work, clock, cancel);
            var results = await run.RunScenariosAsync().ConfigureAwait(false);

            Report.Print(output, results);
            output.WriteLine();
            output.WriteLine($"Command: {options.Command}");
            output.WriteLine($"Total time: {clock.Elapsed.TotalSeconds:F0} s; 1-minute load average at the end: {ProcFs.LoadAverage()}");
            return results.Any(r => r.Outcome == Outcome.Failed) ? 1 : 0;
        }
        finally
        {
            ChildProcess.KillAll();
            if (options.KeepWorkDirectory)
            {
                output.WriteLine($"Work directory kept: {work}");
            }
            else
            {
                TryDelete(work);
            }
        }
    }

    private async Task<List<ScenarioResult>> RunScenariosAsync()
    {
        var results = new List<ScenarioResult>();
        var selected = _options.Scenarios;

        async Task Run(string scenario, string name, string label, Func<Task<ScenarioResult>> body)
        {
            if (!selected.Contains(scenario))
            {
                return;
            }

            Step($"{label} ...");
            ScenarioResult result;
            try
            {
                result = await body().ConfigureAwait(false);
            }
            catch (Exception e) when (!_cancel.IsCancellationRequested && e is not OutOfMemoryException)
            {
                result = ScenarioResult.Failed(name, label, e.Message);
            }

            results.Add(result);
            Step($"  -> {Summary(result)}");
        }

        await Run("wrk", "ceiling-wrk", "ceiling: wrk -t2 -c32", WrkCeilingAsync).ConfigureAwait(false);
        await Run("sync", "sync", "sync, concurrency 4", () => ThroughputAsync("sync", "sync, concurrency 4", new Dictionary<string, object>(), expectBatch: false)).ConfigureAwait(false);
        await Run("async", "async", "async 64", () => ThroughputAsync("async", "async 64", AsyncKeys, expectBatch: false)).ConfigureAwait(false);
        await Run("async1", "async1", "async 64, concurrency 1", () => ThroughputAsync("async1", "async 64, concurrency 1", AsyncOneMemberKeys, expectBatch: false)).ConfigureAwait(false);
        await Run("batch", "batch", "batch 100 (json)", () => ThroughputAsync("batch", "batch 100 (json)", new Dictionary<string, object> { ["format"] = "json", ["batch_size"] = 100 }, expectBatch: true)).ConfigureAwait(false);
        await Run("ceilings", "ceiling-consume", "ceiling: consume only, no HTTP", ConsumeCeilingAsync).ConfigureAwait(false);
        await Run("loops", "ceiling-http", "ceiling: HttpClient loop, 64 tasks", () => HttpCeilingAsync("ceiling-http", 64)).ConfigureAwait(false);
        await Run("loops", "ceiling-http-8", "HttpClient loop, 8 tasks", () => HttpCeilingAsync("ceiling-http-8", BenchOptions.Partitions)).ConfigureAwait(false);
        await Run("loops", "ceiling-kcpreq", "HttpClient loop, kcp's request, 64 tasks", () => HttpCeilingAsync("ceiling-kcpreq", 64, kcpRequest: true)).ConfigureAwait(false);
        await Run("loops", "ceiling-kcpreq-8", "HttpClient loop, kcp's request, 8 tasks", () => HttpCeilingAsync("ceiling-kcpreq-8", BenchOptions.Partitions, kcpRequest: true)).ConfigureAwait(false);
        await Run("loops", "ceiling-raw", "raw HTTP/1.1 loop, 64 tasks", () => HttpCeilingAsync("ceiling-raw", 64, raw: true)).ConfigureAwait(false);
        await Run("loops", "ceiling-raw-8", "raw HTTP/1.1 loop, 8 tasks", () => HttpCeilingAsync("ceiling-raw-8", BenchOptions.Partitions, raw: true)).ConfigureAwait(false);
        await Run("h2", "ceiling-h2", "HttpClient loop, HTTP/2 (h2c), 64 tasks", () => HttpCeilingAsync("ceiling-h2", 64, http2: true)).ConfigureAwait(false);
        await Run("h2", "ceiling-h2-8", "HttpClient loop, HTTP/2 (h2c), 8 tasks", () => HttpCeilingAsync("ceiling-h2-8", BenchOptions.Partitions, http2: true)).ConfigureAwait(false);
        await Run("startup", "startup", "start-up: existing group, broker delay 3 s", () => StartupAsync("startup", "start-up: existing group, broker delay 3 s", 3000)).ConfigureAwait(false);
        await Run("startup", "startup-nodelay", "start-up: existing group, broker delay 0", () => StartupAsync("startup-nodelay", "start-up: existing group, broker delay 0", 0)).ConfigureAwait(false);
        await Run("latency", "latency", $"latency: sync at {_options.LatencyRate:N0} msg/s", LatencyAsync).ConfigureAwait(false);
        if (selected.Contains("backlog"))
        {
            var retained = await PreloadBacklogAsync().ConfigureAwait(false);
            await Run("backlog", "backlog-sync", "backlog: sync, concurrency 4", () => BacklogAsync("backlog-sync", "backlog: sync, concurrency 4", new Dictionary<string, object>(), retained)).ConfigureAwait(false);
            await Run("backlog", "backlog-async", "backlog: async 64", () => BacklogAsync("backlog-async", "backlog: async 64", AsyncKeys, retained)).ConfigureAwait(false);
        }

        if (selected.Contains("large"))
        {
            var topic = $"bench-large-{_runId}";
            Step($"preloading the large-value topic with {BenchProducer.LargeCount:N0} messages of {BenchProducer.LargeValueBytes:N0} bytes (lz4) ...");
            var retained = await PreloadAsync(topic, BenchProducer.LargeCount, CompressionType.Lz4, BenchProducer.LargeValue).ConfigureAwait(false);
            await Run("large", "large-async", "large values: async 64", () => LargeAsync("large-async", "large values: async 64", topic, retained)).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>Preloads a fresh topic, runs kcp until the receiver has every message, and measures the window between first and last delivery.</summary>
    private async Task<ScenarioResult> ThroughputAsync(string name, string label, IReadOnlyDictionary<string, object> keys, bool expectBatch)
    {
        var count = _options.Messages;
        var topic = $"bench-{name}-{_runId}";
        var config = WriteConfig(name, topic, "/consume", keys, _endpoint);
        if (await _kcp.UnsupportedKeyAsync(config).ConfigureAwait(false) is { } key)
        {
            return ScenarioResult.NotAvailable(name, label, $"key {key} not supported by this build");
        }

        var retained = await PreloadAsync(topic, count, CompressionType.None).ConfigureAwait(false);
        if (retained < count)
        {
            throw new InvalidOperationException($"the mock cluster kept only {retained:N0} of {count:N0} messages; use a smaller --messages");
        }

        await _endpoint.ResetAsync().ConfigureAwait(false);
        var startedUnixMs = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        using var proxy = _kcp.Run(config);
        var timeline = _options.TimelineMs > 0 ? new Timeline(proxy.Id, _options.TimelineMs) : null;
        var (start, half, end, stats) = await WaitForDeliveriesAsync(proxy, count, TimeSpan.FromSeconds(60 + count / 2_000), _endpoint, timeline).ConfigureAwait(false);
        if (timeline is not null)
        {
            Step($"  timeline of {name}, from the first delivery, per {_options.TimelineMs} ms (cores of kcp's threads by group):\n{timeline.Format().TrimEnd()}");
        }

        // What kcp spends when it has nothing to do (fetch polling, timers), for comparison with the busy figure.
        var idleFrom = Probe(proxy, stats.Messages, _endpoint);
        await Task.Delay(TimeSpan.FromSeconds(_options.IdleSeconds), _cancel).ConfigureAwait(false);
        var idle = Cores(idleFrom, Probe(proxy, stats.Messages, _endpoint)).Kcp;
        var peak = proxy.PeakMemoryMb;

        var result = new ScenarioResult(name, label)
        {
            MessagesPerSecond = stats.Rate,
            Messages = stats.Messages,
            Seconds = stats.Seconds,
            MessagesPerRequest = stats.Messages / (double)stats.Requests,
            CpuUsPerMessage = (end.Kcp - start.Kcp).TotalMicroseconds / Math.Max(1, end.Messages - start.Messages),
            SecondHalfMessagesPerSecond = (end.Messages - half.Messages) / Math.Max(1e-6, (end.Timestamp - half.Timestamp) / (double)Stopwatch.Frequency),
            SecondHalfCpuUsPerMessage = (end.Kcp - half.Kcp).TotalMicroseconds / Math.Max(1, end.Messages - half.Messages),
            PeakMemoryMb = peak,
            Split = Cores(start, end),
            Receiver = _endpoint.Kind,
        };
        var notes = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"receiver {_endpoint.Kind}; first delivery {(stats.FirstArrivalUnixMs - startedUnixMs) / 1000:F2} s after kcp was started (new group: joining included)"),
            string.Create(CultureInfo.InvariantCulture, $"the mock cluster spent {(end.Cluster - start.Cluster).TotalMicroseconds / Math.Max(1, end.Messages - start.Messages):F1} µs CPU per message serving kcp"),
            string.Create(CultureInfo.InvariantCulture, $"kcp used {idle:F2} cores in the {_options.IdleSeconds} s after the last delivery (commits, background JIT, idle fetching)"),
        };
        if (stats.Messages > count)
        {
            notes.Add($"{stats.Messages - count:N0} duplicate deliveries");
        }

        if (stats.MaxInFlight > 0)
        {
            notes.Add($"at most {stats.MaxInFlight} requests open at once");
        }

        if (expectBatch && result.MessagesPerRequest < 1.5)
        {
            return ScenarioResult.NotAvailable(name, label, string.Create(CultureInfo.InvariantCulture,
                $"batch keys accepted, but requests carried {result.MessagesPerRequest:F2} messages each ({result.MessagesPerSecond:N0} msg/s)"));
        }


        result.Note = string.Join("; ", notes);
        if (name == "sync")
        {
            _syncTopic = topic;
        }

        return result;
    }

    private async Task<ScenarioResult> ConsumeCeilingAsync()
    {
        const string Name = "ceiling-consume";
        var count = _options.Messages;
        var topic = _syncTopic;
        var source = "the sync scenario's topic";
        if (topic is null)
        {
            topic = $"bench-ceiling-{_runId}";
            await PreloadAsync(topic, count, CompressionType.None).ConfigureAwait(false);
            source = "a topic preloaded the same way";
        }

        var (file, arguments) = Self(
            "ceiling-consume", "--bootstrap", _cluster.BootstrapServers, "--topic", topic, "--group", $"bench-ceiling-{_runId}",
            "--count", count.ToString(CultureInfo.InvariantCulture), "--timeout-s", "120", "--consumer-conf", BenchConfig.FormatConf(_options.ConsumerConf));
        var clusterCpu = ProcFs.ThreadsCpuTime(Environment.ProcessId, _mockThreads);
        var (exitCode, output) = await ChildProcess.RunAsync(Name, file, arguments, TimeSpan.FromSeconds(150)).ConfigureAwait(false);
        clusterCpu = ProcFs.ThreadsCpuTime(Environment.ProcessId, _mockThreads) - clusterCpu;
        var figures = ParseResult<ConsumeCeilingResult>(output, Name, exitCode);
        if (figures.Messages < count)
        {
            throw new InvalidOperationException($"consumed only {figures.Messages:N0} of {count:N0} messages within 120 s");
        }

        return new ScenarioResult(Name, "ceiling: consume only, no HTTP")
        {
            MessagesPerSecond = figures.Rate,
            Messages = figures.Messages,
            Seconds = (figures.LastUnixMs - figures.FirstUnixMs) / 1000,
            CpuUsPerMessage = figures.CpuMs * 1000 / figures.Messages,
            PeakMemoryMb = figures.PeakMb,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"one plain Confluent.Kafka consumer in its own process, kcp's consumer settings, {source}, new group, no commits; CPU is the consumer process's; the mock cluster spent {clusterCpu.TotalMicroseconds / figures.Messages:F1} µs CPU per message serving it (whole child run, group join included)"),
        };
    }

    /// <summary>
    /// A plain HttpClient loop against the receiver. With 64 tasks it is the HTTP ceiling; with 8 tasks it has the
    /// in-flight limit of sync delivery (one request per partition), which bounds what sync mode can reach.
    /// </summary>
    private async Task<ScenarioResult> HttpCeilingAsync(string name, int concurrency, bool raw = false, bool http2 = false, bool kcpRequest = false)
    {
        var label = raw ? $"raw HTTP/1.1 loop, {concurrency} tasks" : http2 ? $"HttpClient loop, HTTP/2 (h2c), {concurrency} tasks"
            : kcpRequest ? $"HttpClient loop, kcp's request, {concurrency} tasks"
            : concurrency == 64 ? "ceiling: HttpClient loop, 64 tasks" : $"HttpClient loop, {concurrency} tasks";
        if (http2 && _endpoint is not NginxReceiver)
        {
            return ScenarioResult.NotAvailable(name, label, "HTTP/2 is measured against nginx only");
        }

        var address = http2 ? ((NginxReceiver)_endpoint).Http2Address : _endpoint.BaseAddress;
        var requests = _options.Messages;
        await _endpoint.ResetAsync().ConfigureAwait(false);
        var receiverCpu = _endpoint.Process.CpuTime;
        var (file, arguments) = Self([
            "ceiling-http", "--url", new Uri(address, "consume").ToString(),
            "--requests", requests.ToString(CultureInfo.InvariantCulture), "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture), "--timeout-s", "120",
            "--warmup", (requests / 10).ToString(CultureInfo.InvariantCulture), "--reset-url", new Uri(address, "reset").ToString(),
            .. (raw ? (string[])["--raw"] : []), .. (http2 ? (string[])["--http2"] : []), .. (kcpRequest ? (string[])["--kcp-request"] : [])]);
        // The raw loop has no HttpClient but its socket continuations follow the same switch.
        var inline = _options.LoopsInline;
        var environment = new Dictionary<string, string> { [BenchOptions.InlineCompletionsVariable] = inline ? "1" : "0" };
        var (exitCode, output) = await ChildProcess.RunAsync(name, file, arguments, TimeSpan.FromSeconds(150), environment: environment).ConfigureAwait(false);
        var figures = ParseResult<HttpCeilingResult>(output, name, exitCode);
        // nginx writes its log in 50 ms flushes: wait until the last requests are in it.
        var stats = await _endpoint.StatsAsync().ConfigureAwait(false);
        for (var i = 0; i < 50 && stats.Requests < requests; i++)
        {
            await Task.Delay(20, _cancel).ConfigureAwait(false);
            stats = await _endpoint.StatsAsync().ConfigureAwait(false);
        }

        receiverCpu = _endpoint.Process.CpuTime - receiverCpu;
        if (figures.Errors > 0 || stats.Requests < requests)
        {
            throw new InvalidOperationException($"{figures.Errors} failed requests; the receiver saw {stats.Requests:N0} of {requests:N0}");
        }

        return new ScenarioResult(name, label)
        {
            RequestsPerSecond = stats.RequestRate,
            Messages = stats.Requests,
            Seconds = stats.Seconds,
            CpuUsPerMessage = figures.CpuMs * 1000 / figures.Requests,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"receiver {_endpoint.Kind}; {(raw ? "a socket per task with a minimal HTTP/1.1 writer and reader (no HttpClient)" : kcpRequest ? "one HttpClient, requests built by kcp's RequestBuilder, answers read as kcp does, kcp's http.client.* series aggregated" : "one HttpClient")}, keep-alive, 100-byte form POSTs to the same receiver, measured after {requests / 10:N0} warm-up requests; {(inline ? "answers handled on the socket thread, as kcp's default socket_completions: inline" : "answers handed to the thread pool, the runtime's default")}; CPU is the client's per request; the receiver used {receiverCpu.TotalMicroseconds / (stats.Requests + requests / 10):F1} µs per request (warm-up and measured requests)"),
        };
    }

    /// <summary>
    /// The wrk ceiling against the throughput scenarios' receiver, in the same run: what the receiver and the
    /// loopback take on this machine at this moment, with a load generator that costs little itself.
    /// </summary>
    private async Task<ScenarioResult> WrkCeilingAsync()
    {
        const string Name = "ceiling-wrk";
        const string Label = "ceiling: wrk -t2 -c32";
        if (Wrk.Missing() is { } missing)
        {
            return ScenarioResult.NotAvailable(Name, Label, missing);
        }

        var url = new Uri(_endpoint.BaseAddress, "consume");
        // A short warm-up (connections, the receiver's first allocations), then the measured run.
        await Wrk.RunAsync(url, 2, 32, 1, _work).ConfigureAwait(false);
        await _endpoint.ResetAsync().ConfigureAwait(false);
        var receiverCpu = _endpoint.Process.CpuTime;
        var machine = ProcFs.MachineBusyTime();
        var watch = Stopwatch.StartNew();
        var (rate, requests, _) = await Wrk.RunAsync(url, 2, 32, _options.WrkSeconds, _work).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        receiverCpu = _endpoint.Process.CpuTime - receiverCpu;
        machine = ProcFs.MachineBusyTime() - machine;
        return new ScenarioResult(Name, Label)
        {
            RequestsPerSecond = rate,
            Messages = requests,
            Seconds = _options.WrkSeconds,
            Receiver = _endpoint.Kind,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"receiver {_endpoint.Kind}; wrk -t2 -c32 -d{_options.WrkSeconds}s, 100-byte form POSTs (Lua script), after a 1 s warm-up; the receiver used {receiverCpu.TotalMicroseconds / Math.Max(1, requests):F1} µs CPU per request and {receiverCpu.TotalSeconds / seconds:F2} cores; the machine {machine.TotalSeconds / seconds:F2} cores"),
        };
    }

    /// <summary>
    /// Time from <c>kcp run</c> to the first delivery for a group that already exists: kcp delivers a first batch of
    /// messages and is stopped with SIGTERM (it commits and leaves the group), more messages are produced, and kcp is
    /// started again. <paramref name="brokerDelayMs"/> is the cluster's group initial rebalance delay meanwhile
    /// (a real broker's default is 3 s; it applies whenever the group was empty); 0 shows what kcp itself takes.
    /// </summary>
    private async Task<ScenarioResult> StartupAsync(string name, string label, int brokerDelayMs)
    {
        const int Count = 2_000;
        var topic = $"bench-{name}-{_runId}";
        var config = WriteConfig(name, topic, "/consume", new Dictionary<string, object>(), _endpoint);
        await PreloadAsync(topic, Count, CompressionType.None).ConfigureAwait(false);
        _cluster.SetGroupInitialRebalanceDelay(brokerDelayMs);
        try
        {
            await _endpoint.ResetAsync().ConfigureAwait(false);
            double firstRun;
            using (var proxy = _kcp.Run(config))
            {
                var started = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
                var (_, _, _, stats) = await WaitForDeliveriesAsync(proxy, Count, TimeSpan.FromSeconds(60), _endpoint).ConfigureAwait(false);
                firstRun = (stats.FirstArrivalUnixMs - started) / 1000;
                // Let the last offsets be committed, then stop as an operator would.
                await Task.Delay(TimeSpan.FromSeconds(2), _cancel).ConfigureAwait(false);
                var (killed, output) = await ChildProcess.RunAsync("kill", "/bin/kill", ["-TERM", proxy.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                if (killed != 0)
                {
                    throw new InvalidOperationException($"kill -TERM failed: {output}");
                }

                await proxy.WaitForExitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }

            await Task.Run(() => BenchProducer.Preload(_cluster.BootstrapServers, topic, BenchOptions.Partitions, Count, CompressionType.None, TimeSpan.FromSeconds(60)), _cancel).ConfigureAwait(false);
            await _endpoint.ResetAsync().ConfigureAwait(false);
            using var again = _kcp.Run(config);
            var restarted = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
            var (_, _, _, second) = await WaitForDeliveriesAsync(again, Count, TimeSpan.FromSeconds(60), _endpoint).ConfigureAwait(false);
            var first = (second.FirstArrivalUnixMs - restarted) / 1000;
            return new ScenarioResult(name, label)
            {
                FirstDeliverySeconds = first,
                Messages = second.Messages,
                Receiver = _endpoint.Kind,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"first delivery {first:F2} s after the second `kcp run` (existing group, committed offsets, stopped with SIGTERM before); the first run (new group) took {firstRun:F2} s; the mock cluster's group initial rebalance delay was {brokerDelayMs} ms; {second.Messages:N0} messages delivered in the second run ({Count:N0} produced after the stop)"),
            };
        }
        finally
        {
            _cluster.SetGroupInitialRebalanceDelay(3000);
        }
    }

    private static async Task<NginxReceiver> StartNginxAsync(string work) =>
        NginxReceiver.Missing() is { } missing
            ? throw new InvalidOperationException($"--receiver nginx: {missing}; or use --receiver kestrel")
            : await NginxReceiver.StartAsync(work).ConfigureAwait(false);

    private async Task<ScenarioResult> LatencyAsync()
    {
        const string Name = "latency";
        var label = $"latency: sync at {_options.LatencyRate:N0} msg/s";
        var rate = _options.LatencyRate;
        var topic = $"bench-latency-{_runId}";
        _cluster.CreateTopic(topic, BenchOptions.Partitions);
        var config = WriteConfig(Name, topic, "/consume", new Dictionary<string, object>());
        if (await _kcp.UnsupportedKeyAsync(config).ConfigureAwait(false) is { } key)
        {
            return ScenarioResult.NotAvailable(Name, label, $"key {key} not supported by this build");
        }

        await _receiver.ResetAsync().ConfigureAwait(false);
        using var proxy = _kcp.Run(config);
        // Warm-up: the group forms and rebalances, and kcp's delivery path is compiled, before anything is measured.
        var warmup = rate;
        await BenchProducer.ProducePacedAsync(_cluster.BootstrapServers, topic, BenchOptions.Partitions, rate, warmup, 0, _cancel).ConfigureAwait(false);
        await WaitForDeliveriesAsync(proxy, warmup, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(1), _cancel).ConfigureAwait(false);
        await _receiver.ResetAsync().ConfigureAwait(false);

        var total = (long)rate * _options.LatencySeconds;
        var before = Probe(proxy, 0);
        await BenchProducer.ProducePacedAsync(_cluster.BootstrapServers, topic, BenchOptions.Partitions, rate, total, warmup, _cancel).ConfigureAwait(false);
        var (_, _, end, stats) = await WaitForDeliveriesAsync(proxy, total, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var latency = await _receiver.LatencyAsync().ConfigureAwait(false);
        var split = Cores(before, end);
        return new ScenarioResult(Name, label)
        {
            MessagesPerSecond = stats.Rate,
            Messages = stats.Messages,
            Seconds = stats.Seconds,
            PeakMemoryMb = proxy.PeakMemoryMb,
            Latency = latency,
            Split = split,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{latency.Samples:N0} samples, p99.9 {latency.P999Ms:F2} ms, max {latency.MaxMs:F2} ms, mean {latency.MeanMs:F2} ms; latency = arrival - Kafka CreateTime (whole ms, so up to 1 ms high); fetch.wait.max.ms {_options.FetchWaitMs}; {rate:N0} msg/s produced one by one (linger 0) for {_options.LatencySeconds} s after a {warmup:N0}-message warm-up"),
        };
    }

    private async Task<long> PreloadBacklogAsync()
    {
        var topic = $"bench-backlog-{_runId}";
        Step($"preloading the backlog topic with {_options.Backlog:N0} messages (lz4) ...");
        return await PreloadAsync(topic, _options.Backlog, CompressionType.Lz4).ConfigureAwait(false);
    }

    /// <summary>Runs kcp for a fixed time against the preloaded backlog and a slow endpoint; reports its peak memory.</summary>
    private async Task<ScenarioResult> BacklogAsync(string name, string label, IReadOnlyDictionary<string, object> keys, long retained)
    {
        var topic = $"bench-backlog-{_runId}";
        var config = WriteConfig(name, topic, "/slow", keys);
        if (await _kcp.UnsupportedKeyAsync(config).ConfigureAwait(false) is { } key)
        {
            return ScenarioResult.NotAvailable(name, label, $"key {key} not supported by this build");
        }

        await _receiver.ResetAsync().ConfigureAwait(false);
        using var proxy = _kcp.Run(config);
        var started = Stopwatch.GetTimestamp();
        var start = Probe(proxy, 0);
        double maxRss = 0;
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(_options.BacklogSeconds))
        {
            ThrowIfExited(proxy);
            maxRss = Math.Max(maxRss, proxy.MemoryMb ?? 0);
            await Task.Delay(TimeSpan.FromMilliseconds(250), _cancel).ConfigureAwait(false);
        }

        var stats = await _receiver.StatsAsync().ConfigureAwait(false);
        var end = Probe(proxy, stats.Messages);
        var peak = proxy.PeakMemoryMb;
        if (stats.Messages == 0)
        {
            throw new InvalidOperationException($"nothing was delivered in {_options.BacklogSeconds} s. kcp output:\n{proxy.Output(20)}");
        }

        return new ScenarioResult(name, label)
        {
            MessagesPerSecond = stats.Rate,
            Messages = stats.Messages,
            Seconds = stats.Seconds,
            PeakMemoryMb = peak,
            Split = Cores(start, end),
            Note = string.Create(CultureInfo.InvariantCulture,
                $"backlog {retained:N0} messages (8 partitions, lz4-compressed so the mock cluster keeps them all); receiver answers after {_options.SlowDelayMs} ms, at most {stats.MaxInFlight} requests were open at once; ran {_options.BacklogSeconds} s, {stats.Messages:N0} delivered, so at least {retained - stats.Messages:N0} stayed in the backlog; highest VmRSS sampled {maxRss:F0} MB"),
        };
    }

    /// <summary>
    /// Runs kcp against the preloaded large-value topic and a 50 ms endpoint (<c>/slow50</c>) until every message is
    /// delivered or <c>--backlog-seconds</c> have passed; reports its peak memory.
    /// </summary>
    private async Task<ScenarioResult> LargeAsync(string name, string label, string topic, long retained)
    {
        var config = WriteConfig(name, topic, "/slow50", AsyncKeys);
        if (await _kcp.UnsupportedKeyAsync(config).ConfigureAwait(false) is { } key)
        {
            return ScenarioResult.NotAvailable(name, label, $"key {key} not supported by this build");
        }

        await _receiver.ResetAsync().ConfigureAwait(false);
        using var proxy = _kcp.Run(config);
        var started = Stopwatch.GetTimestamp();
        var start = Probe(proxy, 0);
        double maxRss = 0;
        var stats = await _receiver.StatsAsync().ConfigureAwait(false);
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(_options.BacklogSeconds) && stats.Messages < retained)
        {
            ThrowIfExited(proxy);
            maxRss = Math.Max(maxRss, proxy.MemoryMb ?? 0);
            await Task.Delay(TimeSpan.FromMilliseconds(250), _cancel).ConfigureAwait(false);
            stats = await _receiver.StatsAsync().ConfigureAwait(false);
        }

        var end = Probe(proxy, stats.Messages);
        if (stats.Messages == 0)
        {
            throw new InvalidOperationException($"nothing was delivered in {_options.BacklogSeconds} s. kcp output:\n{proxy.Output(20)}");
        }

        return new ScenarioResult(name, label)
        {
            MessagesPerSecond = stats.Rate,
            Messages = stats.Messages,
            Seconds = stats.Seconds,
            PeakMemoryMb = proxy.PeakMemoryMb,
            Split = Cores(start, end),
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{retained:N0} messages of {BenchProducer.LargeValueBytes:N0} bytes (8 partitions, lz4); receiver answers after 50 ms, at most {stats.MaxInFlight} requests were open at once; {stats.Messages:N0} delivered in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s; highest VmRSS sampled {maxRss:F0} MB"),
        };
    }

    /// <summary>
    /// Polls the receiver until <paramref name="target"/> messages arrived; returns probes at the first poll that saw
    /// a message, at the first poll that saw half of them, and at the poll that saw the last one, and the receiver's
    /// final counters. Samples <paramref name="timeline"/> at every poll from the first delivery on.
    /// </summary>
    private async Task<(Sample Start, Sample Half, Sample End, ReceiverStats Stats)> WaitForDeliveriesAsync(ChildProcess proxy, long target, TimeSpan limit, IReceiver? receiver = null, Timeline? timeline = null)
    {
        receiver ??= _receiver;
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        Sample? start = null;
        Sample? half = null;
        var lastCount = -1L;
        var lastProgress = Stopwatch.GetTimestamp();
        while (true)
        {
            var stats = await receiver.StatsAsync().ConfigureAwait(false);
            var probe = Probe(proxy, stats.Messages, receiver);
            if (start is null && stats.Messages > 0)
            {
                start = probe;
            }

            if (start is not null)
            {
                timeline?.Add(stats.Messages);
            }

            if (half is null && stats.Messages >= target / 2)
            {
                half = probe;
            }

            if (stats.Messages >= target)
            {
                return (start!, half!, probe, stats);
            }

            if (stats.Messages != lastCount)
            {
                lastCount = stats.Messages;
                lastProgress = Stopwatch.GetTimestamp();
            }

            ThrowIfExited(proxy);
            if (Stopwatch.GetElapsedTime(lastProgress) > StallLimit)
            {
                throw new TimeoutException($"no delivery for {StallLimit.TotalSeconds:F0} s at {stats.Messages:N0} of {target:N0}. kcp output:\n{proxy.Output(20)}");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"only {stats.Messages:N0} of {target:N0} delivered within {limit.TotalSeconds:F0} s");
            }

            await Task.Delay(PollInterval, _cancel).ConfigureAwait(false);
        }
    }

    private async Task<long> PreloadAsync(string topic, long count, CompressionType compression, Func<long, byte[]>? value = null)
    {
        _cluster.CreateTopic(topic, BenchOptions.Partitions);
        var watch = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(60 + count / 5_000);
        await Task.Run(() => BenchProducer.Preload(_cluster.BootstrapServers, topic, BenchOptions.Partitions, count, compression, timeout, value), _cancel).ConfigureAwait(false);
        var retained = BenchProducer.Retained(_cluster.BootstrapServers, topic, BenchOptions.Partitions);
        Step(string.Create(CultureInfo.InvariantCulture, $"  preloaded {count:N0} messages into {topic} in {watch.Elapsed.TotalSeconds:F1} s; the cluster holds {retained:N0}"));
        return retained;
    }

    private string WriteConfig(string scenario, string topic, string url, IReadOnlyDictionary<string, object> keys, IReceiver? receiver = null)
    {
        receiver ??= _receiver;
        var directory = Directory.CreateDirectory(Path.Combine(_work, "configs", scenario)).FullName;
        var all = new Dictionary<string, object>(keys);
        foreach (var (key, value) in _options.ExtraRouteKeys)
        {
            all[key] = value;
        }

        // A group per scenario: the backlog scenarios share one topic, and each must start from its beginning.
        return BenchConfig.Write(directory, _cluster.BootstrapServers, _options.ConsumerConf, topic, $"bench-{scenario}-{_runId}-group", receiver.BaseAddress.Port, url, all);
    }

    private Sample Probe(ChildProcess proxy, long messages, IReceiver? receiver = null) => new(
        messages,
        Stopwatch.GetTimestamp(),
        proxy.CpuTime,
        (receiver ?? _receiver).Process.CpuTime,
        ProcFs.CpuTime(Environment.ProcessId) ?? TimeSpan.Zero,
        ProcFs.ThreadsCpuTime(Environment.ProcessId, _mockThreads),
        ProcFs.MachineBusyTime());

    private static CpuSplit Cores(Sample from, Sample to)
    {
        var seconds = Math.Max(1e-6, (to.Timestamp - from.Timestamp) / (double)Stopwatch.Frequency);
        var kcp = (to.Kcp - from.Kcp).TotalSeconds / seconds;
        var receiver = (to.Receiver - from.Receiver).TotalSeconds / seconds;
        var bench = (to.Bench - from.Bench).TotalSeconds / seconds;
        var cluster = (to.Cluster - from.Cluster).TotalSeconds / seconds;
        var machine = (to.Machine - from.Machine).TotalSeconds / seconds;
        return new CpuSplit(kcp, receiver, cluster, Math.Max(0, bench - cluster), Math.Max(0, machine - kcp - receiver - bench));
    }

    private static void ThrowIfExited(ChildProcess proxy)
    {
        if (proxy.HasExited)
        {
            throw new InvalidOperationException($"kcp exited with code {proxy.ExitCode}:\n{proxy.Output(30)}");
        }
    }

    private static T ParseResult<T>(string output, string name, int exitCode)
    {
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(Ceilings.ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{name} exited with code {exitCode} without a result:\n{output}");
        return JsonSerializer.Deserialize<T>(line[Ceilings.ResultPrefix.Length..])
            ?? throw new InvalidOperationException($"{name} printed an empty result");
    }

    /// <summary>The command that starts this program again with <paramref name="arguments"/>.</summary>
    private static (string File, string[] Arguments) Self(params string[] arguments)
    {
        var path = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [typeof(BenchRun).Assembly.Location, .. arguments])
            : (path, arguments);
    }

    private static async Task<string> PublishAsync(string project, string outputDirectory, string work, IEnumerable<string>? extra = null)
    {
        var (exitCode, output) = await ChildProcess.RunAsync(
            "dotnet publish",
            "dotnet",
            ["publish", project, "-c", "Release", "-o", outputDirectory, "--artifacts-path", Path.Combine(work, "artifacts"), "--nologo", "-v", "quiet", .. extra ?? []],
            TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        return exitCode == 0 ? outputDirectory : throw new InvalidOperationException($"dotnet publish {project} failed (exit {exitCode}):\n{output}");
    }

    private static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "KafkaConsumerProxy.slnx")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException("cannot find the repository (KafkaConsumerProxy.slnx) above the current directory; run from the repository");
    }

    private static void PrintHeader(TextWriter output, BenchOptions options, string work)
    {
        output.WriteLine("kcp benchmark");
        output.WriteLine($"  command   {options.Command}");
        output.WriteLine($"  machine   {Environment.ProcessorCount} cores ({ProcFs.CpuModel()}), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  workload  {options.Messages:N0} messages per throughput scenario, {BenchProducer.ValueBytes}-byte values, {BenchOptions.Partitions} partitions; scenarios: {string.Join(", ", BenchOptions.AllScenarios.Where(options.Scenarios.Contains))}"));
        output.WriteLine($"  receiver  {options.Receiver} for wrk, sync, async, batch and the HttpClient ceilings; Kestrel for latency, backlog and large");
        output.WriteLine(options.ReleaseBuild
            ? $"  kcp build release: published with -r {RuntimeInformation.RuntimeIdentifier} (precompiled, tier 0 off; --build portable for JIT only)"
            : "  kcp build portable: published without a runtime identifier (JIT only, as `dotnet publish -o out`)");

        if (options.KcpEnvironment.Count > 0)
        {
            output.WriteLine($"  kcp env   {BenchConfig.FormatConf(options.KcpEnvironment)} (environment of every kcp run)");
        }

        if (options.Scenarios.Contains("loops") || options.Scenarios.Contains("h2"))
        {
            output.WriteLine($"  loops     {(options.LoopsInline ? "answers handled on the socket thread (inline), as the kcp runs" : "answers handed to the thread pool")} (--loop-completions {options.LoopCompletions})");
        }

        if (options.ExtraRouteKeys.Count > 0)
        {
            output.WriteLine($"  route     {BenchConfig.FormatConf(options.ExtraRouteKeys)} (route keys of every kcp run, over each scenario's own)");
        }

        output.WriteLine($"  consumer  {string.Join(", ", options.ConsumerConf.Select(kv => $"{kv.Key}={kv.Value}"))} (every kcp run and the consume-only ceiling)");
        output.WriteLine($"  work dir  {work}");
        output.WriteLine($"  load      1-minute load average {ProcFs.LoadAverage()} at start (anything else running shares the same cores)");
    }

    private void Step(string text) => Step(_out, _clock, text);

    private static void Step(TextWriter output, Stopwatch clock, string text) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed:mm\\:ss}] {text}"));

    private static string Summary(ScenarioResult r) => r.Outcome switch
    {
        Outcome.Measured => string.Join(", ", new[]
        {
            r.MessagesPerSecond is { } m ? m.ToString("N0", CultureInfo.InvariantCulture) + " msg/s" : null,
            r.RequestsPerSecond is { } q ? q.ToString("N0", CultureInfo.InvariantCulture) + " req/s" : null,
            r.CpuUsPerMessage is { } c ? c.ToString("F1", CultureInfo.InvariantCulture) + " µs CPU/msg" : null,
            r.PeakMemoryMb is { } p ? p.ToString("F0", CultureInfo.InvariantCulture) + " MB peak" : null,
            r.Latency is { } l ? string.Create(CultureInfo.InvariantCulture, $"p50 {l.P50Ms:F2} ms, p99 {l.P99Ms:F2} ms") : null,
            r.Split?.ToString(),
        }.Where(s => s is not null)),
        _ => r.Note ?? "",
    };

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A child may still hold a file; the temp directory is cleaned by the OS.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }

    /// <summary>Counters at one moment: messages the receiver had, each process's CPU time so far, and the machine's.</summary>
    private sealed record Sample(long Messages, long Timestamp, TimeSpan Kcp, TimeSpan Receiver, TimeSpan Bench, TimeSpan Cluster, TimeSpan Machine);
}
