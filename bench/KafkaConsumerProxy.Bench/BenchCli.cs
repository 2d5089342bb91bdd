using System.CommandLine;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// The benchmark's command line. Without a subcommand it runs the benchmark; the hidden subcommands are the
/// ceiling measurements, which the benchmark starts as separate processes of itself.
/// </summary>
internal static class BenchCli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var messages = new Option<int>("--messages") { Description = "Messages per throughput scenario (and requests of the HttpClient ceiling)", DefaultValueFactory = _ => 200_000 };
        messages.Validators.Add(r =>
        {
            if (r.GetValue(messages) is < 1_000 or > BenchOptions.MaxThroughputMessages)
            {
                r.AddError($"--messages must be from 1000 to {BenchOptions.MaxThroughputMessages} (the mock cluster keeps at most 5 MiB per partition)");
            }
        });
        var scenarios = new Option<string>("--scenarios")
        {
            Description = $"Comma-separated subset of: {string.Join(", ", BenchOptions.AllScenarios)}",
            DefaultValueFactory = _ => string.Join(',', BenchOptions.AllScenarios),
        };
        scenarios.Validators.Add(r =>
        {
            var unknown = BenchOptions.ParseScenarios(r.GetValue(scenarios) ?? "").Except(BenchOptions.AllScenarios).ToList();
            if (unknown.Count > 0)
            {
                r.AddError($"unknown scenario(s): {string.Join(", ", unknown)}; choose from {string.Join(", ", BenchOptions.AllScenarios)}");
            }
        });
        var backlog = new Option<int>("--backlog") { Description = "Messages preloaded for the backlog memory scenario", DefaultValueFactory = _ => 1_000_000 };
        var backlogSeconds = new Option<int>("--backlog-seconds") { Description = "How long kcp runs against the backlog", DefaultValueFactory = _ => 20 };
        var slowDelay = new Option<int>("--slow-delay-ms") { Description = "Answer delay of the receiver's slow endpoint (backlog scenario)", DefaultValueFactory = _ => 5 };
        var latencyRate = new Option<int>("--latency-rate") { Description = "Messages per second produced in the latency scenario", DefaultValueFactory = _ => 1_000 };
        var latencySeconds = new Option<int>("--latency-seconds") { Description = "Seconds of paced producing in the latency scenario", DefaultValueFactory = _ => 10 };
        var fetchWait = new Option<int>("--fetch-wait-ms") { Description = "fetch.wait.max.ms of every consumer (the mock cluster holds an empty fetch this long)", DefaultValueFactory = _ => 1 };
        var brokers = new Option<int>("--brokers") { Description = "Brokers of the embedded cluster", DefaultValueFactory = _ => 3 };
        var consumerConf = KeyValueOption("--consumer-conf", "Extra librdkafka settings for every consumer, key=value,key=value (experiments; the report prints them)");
        var idleSeconds = new Option<int>("--idle-seconds") { Description = "How long kcp's idle CPU is measured after each throughput scenario", DefaultValueFactory = _ => 1 };
        var receiverKind = new Option<string>("--receiver")
        {
            Description = "Receiver of wrk, sync, async, batch and the HttpClient ceilings: nginx (bench/install.sh installs it) or kestrel; latency, backlog and large always use Kestrel",
            DefaultValueFactory = _ => "nginx",
        };
        receiverKind.AcceptOnlyFromAmong("nginx", "kestrel");
        var wrkSeconds = new Option<int>("--wrk-seconds") { Description = "Duration of the wrk ceiling", DefaultValueFactory = _ => 5 };
        var kcpEnv = KeyValueOption("--kcp-env", "Environment variables for every kcp run, KEY=VALUE,KEY=VALUE (experiments with runtime settings; the report prints them)");
        var routeKeys = KeyValueOption("--route-keys", "Route keys for every kcp run, KEY=VALUE,KEY=VALUE, over each scenario's own (e.g. max_pending=50000; the report prints them)");
        var loopCompletions = new Option<string>("--loop-completions")
        {
            Description = "Where the HttpClient loops run the continuation of each answer: inline (on the socket thread, as kcp does by default), thread_pool (the runtime's default), or kcp (as the kcp runs of this benchmark: inline unless --kcp-env sets DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS)",
            DefaultValueFactory = _ => "kcp",
        };
        loopCompletions.AcceptOnlyFromAmong("kcp", "inline", "thread_pool");
        var build = new Option<string>("--build")
        {
            Description = "How kcp is published: release (for this machine's runtime identifier, as the release single files and the container image: precompiled, tier 0 off) or portable (without a runtime identifier, as `dotnet publish -o out`: JIT only)",
            DefaultValueFactory = _ => "release",
        };
        build.AcceptOnlyFromAmong("release", "portable");
        var keep = new Option<bool>("--keep") { Description = "Keep the work directory (published kcp, configs) after the run" };
        var timeline = new Option<int>("--timeline-ms") { Description = "Print, for each throughput scenario, deliveries and kcp's CPU by thread group per window of this many ms (0: off)", DefaultValueFactory = _ => 0 };
        timeline.Validators.Add(r =>
        {
            if (r.GetValue(timeline) is not (0 or (>= 50 and <= 10_000)))
            {
                r.AddError("--timeline-ms must be 0 (off) or from 50 to 10000");
            }
        });
        var publishDir = new Option<string?>("--publish-dir") { Description = "Publish kcp and the receiver into this directory once and reuse them from there in later runs (alternating A/B runs of fixed builds)" };

        var root = new RootCommand("kcp benchmark: embedded Kafka cluster, a receiver process and kcp processes; prints throughput, CPU, memory and latency")
        {
            messages, scenarios, backlog, backlogSeconds, slowDelay, latencyRate, latencySeconds, fetchWait, consumerConf, brokers, idleSeconds, receiverKind, wrkSeconds, kcpEnv, routeKeys, loopCompletions, build, keep, publishDir, timeline,
            Ceilings.ConsumeCommand(),
            Ceilings.HttpCommand(),
        };
        root.SetAction((parse, cancel) => BenchRun.RunAsync(
            new BenchOptions
            {
                Messages = parse.GetValue(messages),
                Scenarios = BenchOptions.ParseScenarios(parse.GetValue(scenarios) ?? ""),
                Backlog = parse.GetValue(backlog),
                BacklogSeconds = parse.GetValue(backlogSeconds),
                SlowDelayMs = parse.GetValue(slowDelay),
                LatencyRate = parse.GetValue(latencyRate),
                LatencySeconds = parse.GetValue(latencySeconds),
                FetchWaitMs = parse.GetValue(fetchWait),
                ExtraConsumerConf = BenchConfig.ParseConf(parse.GetValue(consumerConf) ?? ""),
                Brokers = parse.GetValue(brokers),
                IdleSeconds = parse.GetValue(idleSeconds),
                KeepWorkDirectory = parse.GetValue(keep),
                PublishDirectory = parse.GetValue(publishDir) is { Length: > 0 } dir ? Path.GetFullPath(dir) : null,
                Receiver = parse.GetValue(receiverKind) ?? "nginx",
                WrkSeconds = parse.GetValue(wrkSeconds),
                ReleaseBuild = parse.GetValue(build) != "portable",
                TimelineMs = parse.GetValue(timeline),
                KcpEnvironment = BenchConfig.ParseConf(parse.GetValue(kcpEnv) ?? ""),
                ExtraRouteKeys = BenchConfig.ParseConf(parse.GetValue(routeKeys) ?? ""),
                LoopCompletions = parse.GetValue(loopCompletions) ?? "kcp",
                Command = "dotnet run -c Release --project bench/KafkaConsumerProxy.Bench" + (args.Length == 0 ? "" : " -- " + string.Join(' ', args)),
            },
            cancel));
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    /// <summary>An option of <c>KEY=VALUE,KEY=VALUE</c> pairs (default none), refused at parse time when malformed.</summary>
    private static Option<string> KeyValueOption(string name, string description)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => "" };
        option.Validators.Add(r =>
        {
            try
            {
                BenchConfig.ParseConf(r.GetValue(option) ?? "");
            }
            catch (FormatException e)
            {
                r.AddError($"{name}: {e.Message}");
            }
        });
        return option;
    }
}

/// <summary>What one benchmark run does.</summary>
internal sealed record BenchOptions
{
    /// <summary>
    /// The mock cluster keeps at most 5 MiB of record batches per partition and drops the oldest beyond that;
    /// 8 partitions of uncompressed 100-byte messages hold about 350,000.
    /// </summary>
    public const int MaxThroughputMessages = 300_000;

    public const int Partitions = 8;

    public static IReadOnlyList<string> AllScenarios { get; } = ["wrk", "sync", "async", "async1", "batch", "ceilings", "loops", "h2", "startup", "latency", "backlog", "large"];

    public required int Messages { get; init; }

    public required IReadOnlySet<string> Scenarios { get; init; }

    /// <summary>Where kcp and the receiver are published once and reused (<c>--publish-dir</c>); null: into the work directory, every run.</summary>
    public string? PublishDirectory { get; init; }

    public required int Backlog { get; init; }

    public required int BacklogSeconds { get; init; }

    public required int SlowDelayMs { get; init; }

    public required int LatencyRate { get; init; }

    public required int LatencySeconds { get; init; }

    public required int FetchWaitMs { get; init; }

    public required IReadOnlyDictionary<string, string> ExtraConsumerConf { get; init; }

    /// <summary>The librdkafka settings of every consumer: kcp's route members and the consume-only ceiling.</summary>
    public IReadOnlyDictionary<string, string> ConsumerConf => BenchConfig.ConsumerConf(FetchWaitMs, ExtraConsumerConf);

    public required int Brokers { get; init; }

    public required int IdleSeconds { get; init; }

    public required bool KeepWorkDirectory { get; init; }

    /// <summary><c>nginx</c> or <c>kestrel</c>: the receiver of the throughput scenarios and the HTTP ceilings.</summary>
    public required string Receiver { get; init; }

    public required int WrkSeconds { get; init; }

    /// <summary>
    /// Whether kcp is published as a release is (<c>--build release</c>: <c>-r</c> this machine's runtime identifier,
    /// which makes kcp's project precompile it and turn tier 0 off) or portable (<c>--build portable</c>).
    /// </summary>
    public required bool ReleaseBuild { get; init; }

    /// <summary>Window of the per-scenario timeline in ms (<c>--timeline-ms</c>); 0 for none.</summary>
    public int TimelineMs { get; init; }

    /// <summary>Environment variables of every kcp run (<c>--kcp-env</c>).</summary>
    public required IReadOnlyDictionary<string, string> KcpEnvironment { get; init; }

    /// <summary>Route keys of every kcp run, over each scenario's own (<c>--route-keys</c>).</summary>
    public required IReadOnlyDictionary<string, string> ExtraRouteKeys { get; init; }

    /// <summary><c>kcp</c>, <c>inline</c> or <c>thread_pool</c> (<c>--loop-completions</c>).</summary>
    public string LoopCompletions { get; init; } = "kcp";

    /// <summary>
    /// Whether the HttpClient loops run each answer's continuation on the socket thread that read it: as asked, or as
    /// the kcp runs do (kcp's default, <c>socket_completions: inline</c>, unless <c>--kcp-env</c> sets the runtime's
    /// variable, which wins in kcp too). The loops are then compared with kcp under the same threading.
    /// </summary>
    public bool LoopsInline => LoopCompletions switch
    {
        "inline" => true,
        "thread_pool" => false,
        _ => !KcpEnvironment.TryGetValue(InlineCompletionsVariable, out var value) || value.Trim() is "1" or "true",
    };

    /// <summary>The runtime's switch that kcp's <c>socket_completions</c> sets.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The command line that reproduces this run.</summary>
    public required string Command { get; init; }

    public static IReadOnlySet<string> ParseScenarios(string text)
    {
        var scenarios = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.ToLowerInvariant())
            .ToHashSet(StringComparer.Ordinal);

        // "ceilings" is the consume-only ceiling and the HTTP client loops; "loops" the client loops alone.
        if (scenarios.Contains("ceilings"))
        {
            scenarios.Add("loops");
        }

        return scenarios;
    }
}
