using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace KafkaConsumerProxy.Bench.Receiver;

/// <summary>
/// The benchmark's HTTP endpoint: Kestrel on 127.0.0.1, keep-alive, answers every delivery with <c>{"errno":0}</c>
/// and records it in an <see cref="ArrivalLog"/>. <c>POST /consume</c> answers at once; <c>POST /slow</c> answers
/// after <c>--slow-delay-ms</c>. <c>GET /stats</c>, <c>GET /latency</c> and <c>POST /reset</c> are for the
/// orchestrator. Prints <c>listening http://127.0.0.1:PORT</c> once it accepts connections.
/// </summary>
internal static class ReceiverApp
{
    private static readonly byte[] Accepted = "{\"errno\":0}"u8.ToArray();

    public static async Task<int> RunAsync(string[] args)
    {
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1; 0 picks a free one", DefaultValueFactory = _ => 0 };
        var slowDelay = new Option<int>("--slow-delay-ms") { Description = "Delay of each answer on /slow", DefaultValueFactory = _ => 5 };
        var capacity = new Option<int>("--capacity") { Description = "Messages whose times are recorded (more are only counted)", DefaultValueFactory = _ => 4_000_000 };
        var parentPid = new Option<int?>("--parent-pid") { Description = "Exit when this process is gone" };
        var root = new RootCommand("HTTP receiver for the kcp benchmark") { port, slowDelay, capacity, parentPid };
        root.SetAction((parse, token) => ServeAsync(
            parse.GetValue(port),
            TimeSpan.FromMilliseconds(parse.GetValue(slowDelay)),
            parse.GetValue(capacity),
            parse.GetValue(parentPid),
            token));
        return await root.Parse(args).InvokeAsync();
    }

    private static async Task<int> ServeAsync(int port, TimeSpan slowDelay, int capacity, int? parentPid, CancellationToken stop)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });

        // Handlers never block (the slow endpoint awaits a timer), so requests may run on the socket threads: one
        // thread hand-off less per request, which matters on two cores shared with kcp and the cluster.
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals);
        await using var app = builder.Build();

        var log = new ArrivalLog(capacity);
        var time = TimeProvider.System;
        app.MapPost("/consume", context => HandleAsync(context, log, time, TimeSpan.Zero));
        app.MapPost("/slow", context => HandleAsync(context, log, time, slowDelay));
        // The large-value scenario's endpoint.
        app.MapPost("/slow50", context => HandleAsync(context, log, time, TimeSpan.FromMilliseconds(50)));
        app.MapGet("/stats", () => log.Stats());
        app.MapGet("/latency", () => log.Latency());
        app.MapPost("/reset", () =>
        {
            log.Reset();
            return Results.NoContent();
        });

        await app.StartAsync(stop);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.Out.WriteLine($"listening {address}");
        Console.Out.Flush();

        using var parentGone = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var watch = parentPid is { } pid ? WatchParentAsync(pid, parentGone, time) : Task.CompletedTask;
        try
        {
            await Task.Delay(Timeout.Infinite, parentGone.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopped by a signal or because the orchestrator is gone.
        }

        await app.StopAsync(CancellationToken.None);
        await watch;
        return 0;
    }

    private static async Task HandleAsync(HttpContext context, ArrivalLog log, TimeProvider time, TimeSpan delay)
    {
        var arrival = time.GetUtcNow().UtcTicks;
        log.RequestStarted();
        try
        {
            await RecordAndAnswerAsync(context, log, arrival, time, delay);
        }
        finally
        {
            log.RequestEnded();
        }
    }

    private static async Task RecordAndAnswerAsync(HttpContext context, ArrivalLog log, long arrival, TimeProvider time, TimeSpan delay)
    {
        var request = context.Request;
        var headerTimestamp = MessageTimestamps.FromHeader(request.Headers["X-Kafka-Timestamp"].ToString());
        if (request.ContentType is { } type && type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            var reader = request.BodyReader;
            var result = await reader.ReadAsync(context.RequestAborted);
            while (!result.IsCompleted)
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                result = await reader.ReadAsync(context.RequestAborted);
            }

            var stamps = new List<double>();
            MessageTimestamps.FromJson(result.Buffer, headerTimestamp, stamps);
            reader.AdvanceTo(result.Buffer.End);
            log.Record(arrival, CollectionsMarshal.AsSpan(stamps));
        }
        else
        {
            log.Record(arrival, [headerTimestamp]);
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, context.RequestAborted);
        }

        var response = context.Response;
        response.ContentType = "application/json";
        response.ContentLength = Accepted.Length;
        await response.Body.WriteAsync(Accepted, context.RequestAborted);
    }

    private static async Task WatchParentAsync(int pid, CancellationTokenSource stop, TimeProvider time)
    {
        try
        {
            while (Directory.Exists($"/proc/{pid}"))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, stop.Token);
            }

            await stop.CancelAsync();
        }
        catch (OperationCanceledException)
        {
            // Stopping anyway.
        }
    }
}
