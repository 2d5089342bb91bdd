using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// The two ceilings kcp is compared with, each run as a separate process of this program so that its CPU and
/// memory are its own: consuming with a plain Confluent.Kafka consumer and no HTTP, and a plain HttpClient loop
/// against the receiver. Each prints one <c>RESULT {json}</c> line.
/// </summary>
internal static class Ceilings
{
    public const string ResultPrefix = "RESULT ";

    public static Command ConsumeCommand()
    {
        var bootstrap = new Option<string>("--bootstrap") { Required = true };
        var topic = new Option<string>("--topic") { Required = true };
        var group = new Option<string>("--group") { Required = true };
        var count = new Option<long>("--count") { Required = true };
        var timeout = new Option<int>("--timeout-s") { DefaultValueFactory = _ => 120 };
        var consumerConf = new Option<string>("--consumer-conf") { Description = "librdkafka settings, key=value,key=value", Required = true };
        var command = new Command("ceiling-consume", "Consume --count messages with a plain consumer and kcp's consumer settings; no HTTP")
        {
            bootstrap, topic, group, count, timeout, consumerConf,
        };
        command.Hidden = true;
        command.SetAction(parse => Consume(
            parse.GetRequiredValue(bootstrap), parse.GetRequiredValue(topic), parse.GetRequiredValue(group),
            parse.GetValue(count), TimeSpan.FromSeconds(parse.GetValue(timeout)), BenchConfig.ParseConf(parse.GetRequiredValue(consumerConf))));
        return command;
    }

    public static Command HttpCommand()
    {
        var url = new Option<string>("--url") { Required = true };
        var requests = new Option<long>("--requests") { Required = true };
        var concurrency = new Option<int>("--concurrency") { DefaultValueFactory = _ => 64 };
        var timeout = new Option<int>("--timeout-s") { DefaultValueFactory = _ => 120 };
        var warmup = new Option<long>("--warmup") { Description = "Requests sent before the measured ones", DefaultValueFactory = _ => 0 };
        var resetUrl = new Option<string?>("--reset-url") { Description = "POSTed after the warm-up, so the receiver counts only the measured requests" };
        var command = new Command("ceiling-http", "POST --requests 100-byte form bodies with --concurrency tasks over one keep-alive HttpClient")
        {
            url, requests, concurrency, timeout, warmup, resetUrl,
        };
        command.Hidden = true;
        command.SetAction((parse, _) => PostAsync(
            new Uri(parse.GetRequiredValue(url)), parse.GetValue(requests), parse.GetValue(concurrency), TimeSpan.FromSeconds(parse.GetValue(timeout)),
            parse.GetValue(warmup), parse.GetValue(resetUrl) is { } reset ? new Uri(reset) : null));
        return command;
    }

    /// <summary>The settings kcp's ConsumerSettings gives a route member, plus the benchmark's consumer_conf.</summary>
    public static ConsumerConfig KcpLikeConsumerConfig(string bootstrapServers, string group, IReadOnlyDictionary<string, string> consumerConf)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = group,
            ClientId = "bench-ceiling",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            HeartbeatIntervalMs = 1000,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = false,
        };
        foreach (var (key, value) in consumerConf)
        {
            config.Set(key, value);
        }

        return config;
    }

    private static int Consume(string bootstrap, string topic, string group, long count, TimeSpan timeout, IReadOnlyDictionary<string, string> consumerConf)
    {
        var clock = TimeProvider.System;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KcpLikeConsumerConfig(bootstrap, group, consumerConf))
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetLogHandler((_, _) => { })
            .Build();
        consumer.Subscribe(topic);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        long seen = 0;
        long bytes = 0;
        double firstMs = 0;
        var firstCpu = TimeSpan.Zero;
        while (seen < count && Stopwatch.GetTimestamp() < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(20));
            if (result?.Message is not { } message)
            {
                continue;
            }

            if (seen == 0)
            {
                firstMs = UnixMs(clock);
                firstCpu = ProcFs.CpuTime(Environment.ProcessId) ?? TimeSpan.Zero;
            }

            seen++;
            bytes += message.Value?.Length ?? 0;
        }

        var lastMs = UnixMs(clock);
        var lastCpu = ProcFs.CpuTime(Environment.ProcessId) ?? TimeSpan.Zero;
        var peakKb = ProcFs.StatusKb(Environment.ProcessId, "VmHWM") ?? 0;
        consumer.Close();
        var result2 = new ConsumeCeilingResult(seen, bytes, firstMs, lastMs, (lastCpu - firstCpu).TotalMilliseconds, peakKb / 1024.0);
        Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(result2));
        return seen >= count ? 0 : 1;
    }

    private static async Task<int> PostAsync(Uri url, long requests, int concurrency, TimeSpan timeout, long warmup, Uri? resetUrl)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        using var client = new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(10) };
        var contentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        var body = Encoding.ASCII.GetBytes("m=" + new string('x', 100 - "m=&p=0&o=0".Length) + "&p=0&o=0");
        using var stop = new CancellationTokenSource(timeout);
        long next = -1;
        long errors = 0;
        var limit = warmup;

        async Task LoopAsync()
        {
            while (Interlocked.Increment(ref next) < limit && !stop.IsCancellationRequested)
            {
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = contentType;
                    using var response = await client.PostAsync(url, content, stop.Token).ConfigureAwait(false);
                    await response.Content.ReadAsByteArrayAsync(stop.Token).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }

        // Warm-up: connections opened and the code paths compiled before anything is counted.
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(LoopAsync))).ConfigureAwait(false);
        if (resetUrl is not null)
        {
            using var reset = await client.PostAsync(resetUrl, null, stop.Token).ConfigureAwait(false);
            reset.EnsureSuccessStatusCode();
        }

        (next, errors, limit) = (-1, 0, requests);
        var cpuBefore = ProcFs.CpuTime(Environment.ProcessId) ?? TimeSpan.Zero;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(LoopAsync))).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = (ProcFs.CpuTime(Environment.ProcessId) ?? TimeSpan.Zero) - cpuBefore;
        var sent = Math.Min(Interlocked.Read(ref next), requests);
        var result = new HttpCeilingResult(sent, errors, seconds, cpu.TotalMilliseconds);
        Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(result));
        return errors == 0 && sent >= requests ? 0 : 1;
    }

    private static double UnixMs(TimeProvider clock) =>
        (clock.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond;
}

/// <summary>The consume-only ceiling's figures, measured from its first to its last message.</summary>
internal sealed record ConsumeCeilingResult(long Messages, long Bytes, double FirstUnixMs, double LastUnixMs, double CpuMs, double PeakMb)
{
    public double Rate => Messages / ((LastUnixMs - FirstUnixMs) / 1000);
}

/// <summary>The HttpClient ceiling's own view: requests sent, failures, wall time and its CPU time.</summary>
internal sealed record HttpCeilingResult(long Requests, long Errors, double Seconds, double CpuMs);
