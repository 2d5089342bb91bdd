using System.Globalization;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// The range replays running inside this kcp (<c>POST /api/v1/routes/{route}/replays</c>), each on its own task beside
/// the live routes, which keep delivering. Keeps the last <see cref="MaxKept"/> ended replays for their status; cancels
/// the running ones when kcp stops.
/// </summary>
internal sealed class ReplayRuns : IAsyncDisposable
{
    /// <summary>Ended replays kept for <c>GET</c> (the oldest are forgotten first). The default value is 50.</summary>
    public const int MaxKept = 50;

    private readonly Func<KcpConfig> _config;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<(ReplayProgress Progress, Task Run)> _runs = [];
    private bool _closed;

    /// <param name="config">The configuration in force: a replay uses the route as it is when the replay starts.</param>
    public ReplayRuns(Func<KcpConfig> config, ILoggerFactory loggers, TimeProvider time)
    {
        _config = config;
        _loggers = loggers;
        _time = time;
    }

    /// <summary>
    /// Plans a replay of <paramref name="routeName"/> (so a bad partition or an unknown topic is answered at once) and
    /// starts it. Throws <see cref="ReplayException"/> when it cannot start, <see cref="KeyNotFoundException"/> for an
    /// unknown route.
    /// </summary>
    public ReplayProgress Start(string routeName, ReplayRequest request, string by)
    {
        var config = _config();
        var route = config.Routes.FirstOrDefault(r => r.Name == routeName) ?? throw new KeyNotFoundException($"no route named '{routeName}'");
        var logger = _loggers.CreateLogger($"kcp.replay.{route.Name}");
        var progress = new ReplayProgress(ReplayProgress.NewId(), route.Name, request, RangeReplay.TargetOf(route, request), _time, by);
        var replay = new RangeReplay(config, route, logger, _time);
        try
        {
            replay.Plan(progress);
        }
        catch (Confluent.Kafka.KafkaException ex)
        {
            throw new ReplayException(ex.Message.ReplaceLineEndings(" "));
        }

        var planned = progress.Snapshot();
        Log.ReplayStarted(logger, route.Name, progress.Id, by, planned.Topic, planned.Total,
            string.Join(", ", planned.Partitions.Select(p => string.Create(CultureInfo.InvariantCulture, $"partition {p.Partition} offsets {p.Start}..{p.End - 1}"))),
            progress.Target, request.DryRun ? " (dry run)" : "");
        lock (_gate)
        {
            if (_closed)
            {
                throw new ReplayException("kcp is stopping");
            }

            var run = Task.Run(async () =>
            {
                await replay.RunAsync(progress, CancellationToken.None).ConfigureAwait(false);
                var s = progress.Snapshot();
                Log.ReplayEnded(logger, s.Route, s.Id, s.State.ToString().ToLowerInvariant(), s.Sent, s.Accepted, s.Failed, s.Skipped, s.OutsideTimeRange, s.Error is null ? "" : ": " + s.Error);
            });
            _runs.Add((progress, run));
            var ended = _runs.Where(r => r.Run.IsCompleted).ToList();
            for (var i = 0; i < ended.Count - MaxKept; i++)
            {
                _runs.Remove(ended[i]);
            }
        }

        return progress;
    }

    /// <summary>The replays of <paramref name="route"/>, oldest first.</summary>
    public IReadOnlyList<ReplayProgress> Of(string route)
    {
        lock (_gate)
        {
            return [.. _runs.Where(r => r.Progress.Route == route).Select(r => r.Progress)];
        }
    }

    public ReplayProgress? Find(string route, string id)
    {
        lock (_gate)
        {
            return _runs.FirstOrDefault(r => r.Progress.Route == route && r.Progress.Id == id).Progress;
        }
    }

    /// <summary>Asks <paramref name="progress"/> to stop; it ends cancelled once the message being sent is answered.</summary>
    public void Cancel(ReplayProgress progress, string by)
    {
        Log.ReplayCancelRequested(_loggers.CreateLogger($"kcp.replay.{progress.Route}"), progress.Route, progress.Id, by);
        progress.Cancel.Cancel();
    }

    /// <summary>Cancels every running replay and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        List<(ReplayProgress Progress, Task Run)> runs;
        lock (_gate)
        {
            _closed = true;
            runs = [.. _runs];
        }

        foreach (var (progress, _) in runs)
        {
            await progress.Cancel.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(runs.Select(r => r.Run)).ConfigureAwait(false);
    }
}
