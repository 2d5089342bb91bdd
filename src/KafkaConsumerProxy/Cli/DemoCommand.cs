using System.CommandLine;
using Confluent.Kafka;
using System.Runtime.InteropServices;
using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Embedded;
using KafkaConsumerProxy.Hosting;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp demo</c>: the product working end to end with no Kafka or endpoint of the user's own — an embedded
/// cluster (librdkafka's mock cluster), a demo receiver, and a route written to a temporary directory. The plain demo
/// delivers its sample messages and ends, saying that its dashboard ends with it; <c>--serve</c> keeps kcp and the
/// dashboard running until SIGINT or SIGTERM, with one message the endpoint always refuses and the exact
/// <c>kcp skip</c> command for it. The summary accounts for every message: delivered, skipped, or left uncommitted.
/// </summary>
internal static class DemoCommand
{
    private const string Topic = "demo-orders";
    private const int Partitions = 4;

    public static Command Create()
    {
        var messages = new Option<int>("--messages")
        {
            Description = "How many sample messages to produce",
            DefaultValueFactory = _ => 1000,
            CustomParser = r => CliApp.WholeNumber(r, 1, 10_000_000) ?? 0,
        };
        var serve = new Option<bool>("--serve") { Description = "Keep running after the sample messages (until Ctrl-C or SIGTERM), with one message the endpoint always refuses, to try the dashboard's Skip" };
        var command = new Command("demo", "Run kcp against an embedded Kafka cluster and a demo HTTP receiver, with the admin endpoint and dashboard") { messages, serve };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(messages), parse.GetValue(serve)));
        return command;
    }

    private static async Task<int> RunAsync(int count, bool serve)
    {
        // SIGINT (Ctrl-C), SIGTERM (a service manager, `podman stop`) and SIGQUIT end the demo the same way: the
        // summary is printed and everything started is stopped.
        using var stop = new CancellationTokenSource();
        var signals = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            }))
            .ToList();
        try
        {
            return await RunDemoAsync(count, serve, stop.Token).ConfigureAwait(false);
        }
        finally
        {
            signals.ForEach(s => s.Dispose());
        }
    }

    private static async Task<int> RunDemoAsync(int count, bool serve, CancellationToken interrupted)
    {
        // The process's clock: the demo is a composition root, where the clock is chosen.
        var time = TimeProvider.System;
        var output = Console.Out;
        output.WriteLine("kcp demo: starting an embedded Kafka cluster (librdkafka mock cluster, 3 brokers)...");
        using var cluster = MockKafkaCluster.Start(3);
        cluster.CreateTopic(Topic, Partitions);
        await using var endpoint = await DemoEndpoint.StartAsync("/demo/orders", refuseEvery: 50).ConfigureAwait(false);

        var directory = Directory.CreateTempSubdirectory("kcp-demo-");
        var configFile = WriteConfig(directory.FullName, cluster.BootstrapServers, endpoint.Port);
        var config = ConfigLoader.Load(configFile);
        output.WriteLine($"  cluster    {cluster.BootstrapServers}, topic '{Topic}' with {Partitions} partitions");
        output.WriteLine($"  endpoint   http://127.0.0.1:{endpoint.Port}/demo/orders (refuses every 50th request once, to show a retry)");
        output.WriteLine($"  config     {configFile}");
        output.WriteLine($"  route      {Path.Combine(config.RoutesDir, Topic + ".yaml")}");

        output.WriteLine($"Producing {count} sample messages...");
        await EmbeddedProducer.ProduceAsync(
            cluster.BootstrapServers,
            Topic,
            Enumerable.Range(0, count).Select(i => (i % Partitions, (byte[]?)Encoding.UTF8.GetBytes($"order-{i}"), (byte[]?)Encoding.UTF8.GetBytes($"{{\"order\":{i},\"amount\":{i % 97}.50}}"))),
            cancellationToken: interrupted).ConfigureAwait(false);

        using var loggers = LoggerFactory.Create(logging =>
        {
            CliApp.ConfigureLogging(logging);
            // Retries are the point of the demo's refusals; the progress line reports them instead.
            logging.AddFilter("kcp.route", LogLevel.Error);
        });
        using var metrics = new ProxyMetrics(time);
        using var stopProxy = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        var runner = new ProxyRunner(config, loggers, metrics, new ManualSkipSignal(time, NullLoggerFactory.Instance), time);
        var running = runner.RunAsync(stopProxy.Token);
        for (var i = 0; i < 200 && runner.Admin is null && !running.IsCompleted; i++)
        {
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromMilliseconds(50), time, CancellationToken.None)).ConfigureAwait(false);
        }

        if (runner.Admin is { } admin)
        {
            output.WriteLine($"  dashboard  {admin.Address}  (metrics {admin.Address}metrics, API {admin.Address}api/v1/routes)");
            if (!serve)
            {
                output.WriteLine("             open while the demo runs: it ends once the sample messages are delivered; kcp demo --serve keeps it open until Ctrl-C");
            }
        }

        var started = time.GetTimestamp();
        var lastTime = TimeSpan.Zero;
        var lastDelivered = 0L;
        // Until the endpoint has accepted every message and kcp has counted each (its count follows the answer, so the
        // last progress line shows them all).
        while (!interrupted.IsCancellationRequested && !running.IsCompleted && (endpoint.Accepted < count || metrics.Delivered + metrics.Skipped < count))
        {
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromMilliseconds(500), time, interrupted)).ConfigureAwait(false);
            var now = time.GetElapsedTime(started);
            var delivered = metrics.Delivered;
            var rate = (delivered - lastDelivered) / Math.Max((now - lastTime).TotalSeconds, 0.001);
            (lastTime, lastDelivered) = (now, delivered);
            output.WriteLine($"  delivered {delivered,8}/{count}   {rate,9:F0} msg/s   failed attempts {metrics.FailedAttempts,5}   skipped {metrics.Skipped}");
        }

        var deliveredIn = time.GetElapsedTime(started);
        TopicPartitionOffset? stuck = null;
        if (serve && !interrupted.IsCancellationRequested && !running.IsCompleted)
        {
            var produced = await EmbeddedProducer.ProduceAsync(cluster.BootstrapServers, Topic,
                [(0, (byte[]?)Encoding.UTF8.GetBytes(DemoEndpoint.StuckMarker), (byte[]?)Encoding.UTF8.GetBytes("{\"order\":\"stuck\",\"stuck\":true}"))],
                cancellationToken: interrupted).ConfigureAwait(false);
            stuck = produced[0];
            var at = $"{stuck.Partition.Value}:{stuck.Offset.Value}";
            output.WriteLine($"All {count} sample messages delivered. One more order (partition {stuck.Partition.Value}, offset {stuck.Offset.Value}, key {DemoEndpoint.StuckMarker}) is refused by the endpoint every time;");
            output.WriteLine("the messages behind it on its partition wait. Press Skip on it in the dashboard, or run:");
            output.WriteLine($"  kcp skip {Topic} {at} --config {configFile}");
            output.WriteLine("kcp keeps running and serving the dashboard until Ctrl-C (or SIGTERM).");
            try
            {
                await Task.WhenAny(running, Task.Delay(Timeout.InfiniteTimeSpan, time, interrupted)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C.
            }
        }

        output.WriteLine("Stopping kcp: finishing in-flight deliveries, committing, leaving the group...");
        await stopProxy.CancelAsync().ConfigureAwait(false);
        await running.ConfigureAwait(false);

        var committed = Committed(cluster.BootstrapServers);
        var total = count + (stuck is null ? 0 : 1);
        var covered = committed.Values.Sum();
        var complete = endpoint.Accepted >= count;
        output.WriteLine();
        if (!complete)
        {
            output.WriteLine($"Interrupted: {endpoint.Accepted} of {count} messages delivered; the group's committed offsets cover {covered}; the rest stay uncommitted and are delivered on the next start.");
        }
        else
        {
            // The stuck order is never accepted by the endpoint: past it, the committed offset means it was skipped.
            var fate = stuck is null
                ? ""
                : committed.GetValueOrDefault(stuck.Partition.Value) > stuck.Offset.Value
                    ? $" The refused order (partition {stuck.Partition.Value}, offset {stuck.Offset.Value}) was skipped: written to the skip records ({Path.Combine(config.StateDir, StateDirLayout.SkipLogFile)}), not delivered."
                    : $" The refused order (partition {stuck.Partition.Value}, offset {stuck.Offset.Value}) was neither delivered nor skipped: it stays uncommitted, and the next start delivers it again.";
            output.WriteLine($"Done: all {count} sample messages delivered to the endpoint in {deliveredIn.TotalSeconds:F1} s; {metrics.FailedAttempts} refused attempt(s) were retried; the group's committed offsets cover {covered} of {total} messages.{fate}");
        }

        output.WriteLine(serve ? "The demo has ended; its dashboard with it." : "The demo has ended, and its dashboard with it; kcp demo --serve keeps them running until Ctrl-C.");
        output.WriteLine();
        output.WriteLine("To run kcp against your own Kafka and endpoint:");
        output.WriteLine($"  1. copy {configFile} and its routes/ folder, set clusters.default.bootstrap_servers to your brokers and drop its consumer_conf (it tunes the embedded cluster)");
        output.WriteLine("  2. in routes/<name>.yaml set topic and group, and your endpoint's URL as endpoint: (in place of host, port and url)");
        output.WriteLine("  3. in that folder: kcp validate   then   kcp run   (both read ./kcp.yaml, or --config FILE)");
        return complete ? 0 : CliApp.Interrupted;
    }

    /// <summary>Reads back what the demo group committed per partition, so the summary reports it rather than assumes it.</summary>
    private static Dictionary<int, long> Committed(string bootstrapServers)
    {
        using var reader = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "demo-group" })
            .SetLogHandler((_, _) => { })
            .Build();
        var committed = reader.Committed(Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Topic, p)), TimeSpan.FromSeconds(10));
        return committed.Where(c => !c.Offset.IsSpecial).ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
    }

    private static string WriteConfig(string directory, string bootstrapServers, int port)
    {
        var routes = Directory.CreateDirectory(Path.Combine(directory, "routes")).FullName;
        var configFile = Path.Combine(directory, "kcp.yaml");
        File.WriteAllText(configFile, $"""
            clusters:
              default:
                bootstrap_servers: "{bootstrapServers}"
                # The embedded cluster holds every fetch for fetch.wait.max.ms even when data arrives, and waits up
                # to the session timeout for members during a rebalance; a real cluster needs neither setting.
                consumer_conf:
                  fetch.wait.max.ms: 10
                  session.timeout.ms: 6000
                  heartbeat.interval.ms: 500
            routes_dir: routes
            state_dir: state
            # The metrics, status API and dashboard, on a free port of this machine only.
            admin:
              listen: 127.0.0.1:0

            """);
        File.WriteAllText(Path.Combine(routes, Topic + ".yaml"), $"""
            # One route: topic + consumer group -> one HTTP endpoint.
            topic: {Topic}
            group: demo-group
            host: 127.0.0.1
            port: {port}
            url: /demo/orders
            concurrency: 2
            can_skip: false
            retry_nums: 3
            retry_interval_ms: 100
            conn_timeout_ms: 1000
            exec_timeout_ms: 5000
            use_saved_offset_time: 0
            slow_time_ms: 1000

            """);
        return configFile;
    }
}
