using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
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
        var raw = new Option<bool>("--raw") { Description = "A minimal HTTP/1.1 client on one socket per task instead of HttpClient (a measure of HttpClient's own cost)" };
        var http2 = new Option<bool>("--http2") { Description = "HttpClient with HTTP/2 only (h2c with prior knowledge for http:// URLs)" };
        var kcpRequest = new Option<bool>("--kcp-request")
        {
            Description = "Each request built by kcp's RequestBuilder for the benchmark's route, the answer read into a pooled buffer, "
                + "with the runtime's http.client.* series kcp exports aggregated by OpenTelemetry",
        };
        var command = new Command("ceiling-http", "POST --requests 100-byte form bodies with --concurrency tasks over one keep-alive HttpClient")
        {
            url, requests, concurrency, timeout, warmup, resetUrl, raw, http2, kcpRequest,
        };
        command.Hidden = true;
        command.SetAction((parse, _) => PostAsync(
            new Uri(parse.GetRequiredValue(url)), parse.GetValue(requests), parse.GetValue(concurrency), TimeSpan.FromSeconds(parse.GetValue(timeout)),
            parse.GetValue(warmup), parse.GetValue(resetUrl) is { } reset ? new Uri(reset) : null, parse.GetValue(raw), parse.GetValue(http2), parse.GetValue(kcpRequest)));
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

    private static async Task<int> PostAsync(Uri url, long requests, int concurrency, TimeSpan timeout, long warmup, Uri? resetUrl, bool raw, bool http2, bool kcpRequest)
    {
        // 100-byte values, as the throughput scenarios produce.
        using var kcpShaped = kcpRequest ? new KcpShapedRequest(url, Encoding.ASCII.GetBytes(new string('x', 100))) : null;
        var handler = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = int.MaxValue,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        using var client = new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(10) };
        if (http2)
        {
            // One connection, the requests as streams on it (nginx allows 128 at once).
            client.DefaultRequestVersion = System.Net.HttpVersion.Version20;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        var contentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        var body = Encoding.ASCII.GetBytes("m=" + new string('x', 100 - "m=&p=0&o=0".Length) + "&p=0&o=0");
        using var stop = new CancellationTokenSource(timeout);
        long next = -1;
        long errors = 0;
        var limit = warmup;

        async Task LoopAsync()
        {
            if (raw)
            {
                await RawLoopAsync(url, body, () => Interlocked.Increment(ref next) < limit && !stop.IsCancellationRequested, () => Interlocked.Increment(ref errors), stop.Token).ConfigureAwait(false);
                return;
            }

            while (Interlocked.Increment(ref next) < limit && !stop.IsCancellationRequested)
            {
                try
                {
                    if (kcpShaped is not null)
                    {
                        if (!await kcpShaped.SendAsync(client, next, stop.Token).ConfigureAwait(false))
                        {
                            Interlocked.Increment(ref errors);
                        }

                        continue;
                    }

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

    /// <summary>
    /// Keep-alive HTTP/1.1 POSTs on one socket: the request is written in one send, the answer read until its headers
    /// and its Content-Length or last chunk are in. Only as much HTTP as nginx's answer needs: a measure of what the
    /// socket and the kernel cost, without HttpClient.
    /// </summary>
    private static async Task RawLoopAsync(Uri url, byte[] body, Func<bool> more, Action failed, CancellationToken stop)
    {
        var request = Encoding.ASCII.GetBytes(
            $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {body.Length}\r\n\r\n")
            .Concat(body).ToArray();
        var buffer = new byte[16 * 1024];
        Socket? socket = null;
        try
        {
            while (more())
            {
                try
                {
                    if (socket is null)
                    {
                        socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                        await socket.ConnectAsync(url.Host, url.Port, stop).ConfigureAwait(false);
                    }

                    await socket.SendAsync(request, SocketFlags.None, stop).ConfigureAwait(false);
                    if (!await ReadAnswerAsync(socket, buffer, stop).ConfigureAwait(false))
                    {
                        failed();
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
                {
                    failed();
                    socket?.Dispose();
                    socket = null;
                }
            }
        }
        finally
        {
            socket?.Dispose();
        }
    }

    /// <summary>Reads one answer; true for a 2xx status.</summary>
    private static async Task<bool> ReadAnswerAsync(Socket socket, byte[] buffer, CancellationToken stop)
    {
        var filled = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, stop).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("connection closed");
            }

            filled += read;
            if (Complete(buffer.AsSpan(0, filled)) is { } ok)
            {
                return ok;
            }
        }
    }

    /// <summary>Null while the answer is incomplete; else whether its status is 2xx.</summary>
    private static bool? Complete(ReadOnlySpan<byte> answer)
    {
        var end = answer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return null;
        }

        var ok = answer.StartsWith("HTTP/1.1 2"u8);
        var headers = answer[..end];
        var at = headers.IndexOf("Content-Length: "u8);
        if (at >= 0)
        {
            var digits = headers[(at + 16)..];
            var cr = digits.IndexOf((byte)'\r');
            _ = System.Buffers.Text.Utf8Parser.TryParse(cr < 0 ? digits : digits[..cr], out int length, out _);
            return answer.Length >= end + 4 + length ? ok : null;
        }

        return answer.EndsWith("\r\n0\r\n\r\n"u8) ? ok : null;
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
