using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The operator's "skip what is stuck" request (SIGUSR1). A message that starts failing takes the current
/// token; <see cref="Trigger"/> cancels it and hands out a fresh one, so only messages that were already being
/// retried are skipped, never the ones that come after.
/// </summary>
/// <remarks>
/// At most one request per <see cref="MinInterval"/> (1 s) counts: a burst of signals (a script in a loop, a
/// key held down) would otherwise skip a message per signal. The requests that come sooner are ignored and
/// reported together in one line once the interval is over.
/// </remarks>
internal sealed class ManualSkipSignal
{
    /// <summary>The shortest time between two requests that count (1 s).</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly ITimer _report;
    private CancellationTokenSource _current = new();
    private long? _lastAccepted;
    private long _ignored;
    private bool _reportArmed;

    /// <summary>A signal on the system clock that logs nothing (tests that trigger it themselves).</summary>
    public ManualSkipSignal()
        // The system clock: only tests that do not time the signal use this constructor; kcp passes its own clock.
        : this(TimeProvider.System, NullLoggerFactory.Instance)
    {
    }

    /// <summary>A signal that logs each request that counts, and the ones ignored, as "kcp".</summary>
    public ManualSkipSignal(TimeProvider time, ILoggerFactory loggers)
    {
        _time = time;
        _logger = loggers.CreateLogger("kcp");
        _report = time.CreateTimer(_ => ReportIgnored(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public CancellationToken Token => Volatile.Read(ref _current).Token;

    /// <summary>Skips the messages being retried now; false (and nothing skipped) within <see cref="MinInterval"/> of the last request that counted.</summary>
    public bool Trigger()
    {
        CancellationTokenSource old;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_lastAccepted is { } last && _time.GetElapsedTime(last, now) < MinInterval)
            {
                _ignored++;
                if (!_reportArmed)
                {
                    _reportArmed = true;
                    _report.Change(MinInterval - _time.GetElapsedTime(last, now), Timeout.InfiniteTimeSpan);
                }

                return false;
            }

            _lastAccepted = now;

            // The old source is not disposed: workers may still link to its token.
            old = Interlocked.Exchange(ref _current, new CancellationTokenSource());
        }

        Log.ManualSkipRequested(_logger);
        old.Cancel();
        return true;
    }

    private void ReportIgnored()
    {
        long ignored;
        lock (_lock)
        {
            _reportArmed = false;
            ignored = _ignored;
            _ignored = 0;
        }

        if (ignored > 0)
        {
            Log.ManualSkipIgnored(_logger, ignored, (long)MinInterval.TotalMilliseconds);
        }
    }
}
