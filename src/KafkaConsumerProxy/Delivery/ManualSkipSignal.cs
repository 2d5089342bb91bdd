using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The operator's "skip what is stuck" request (SIGUSR1). A message that starts failing takes the current
/// token (<see cref="Take"/>) until it is finished; <see cref="Trigger"/> cancels it and hands out a fresh one, so only
/// messages that were already being retried are skipped, never the ones that come after.
/// </summary>
/// <remarks>
/// At most one request per <see cref="MinInterval"/> (1 s) counts: a burst of signals (a script in a loop, a
/// key held down) would otherwise skip a message per signal. The requests that come sooner are ignored and
/// reported together in one line once the interval is over. A request while no message is being retried is not
/// taken (it would skip nothing) and does not count: the operator is told so, at most once per interval.
/// </remarks>
internal sealed class ManualSkipSignal
{
    /// <summary>The shortest time between two requests that count (1 s).</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly ITimer _report;
    private Generation _current = new();
    private long? _lastAccepted;
    private long? _lastNothingRetried;
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

    /// <summary>The token the next message that starts failing takes.</summary>
    public CancellationToken Token => Volatile.Read(ref _current).Source.Token;

    /// <summary>
    /// Taken by a message at its first failed attempt: its token is cancelled by the next request that counts. The
    /// message gives it back (<see cref="Held.Release"/>) once it is finished, however it ends.
    /// </summary>
    public Held Take()
    {
        lock (_lock)
        {
            _current.Holders++;
            return new Held(this, _current);
        }
    }

    /// <summary>
    /// Skips the messages being retried now; false (and nothing skipped) within <see cref="MinInterval"/> of the last
    /// request that counted, or when no message is being retried.
    /// </summary>
    public bool Trigger()
    {
        Generation? old = null;
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

            if (_current.Holders > 0)
            {
                _lastAccepted = now;

                // The old source is not disposed: workers may still link to its token.
                old = Interlocked.Exchange(ref _current, new Generation());
            }
            else if (_lastNothingRetried is { } told && _time.GetElapsedTime(told, now) < MinInterval)
            {
                return false;
            }
            else
            {
                _lastNothingRetried = now;
            }
        }

        if (old is null)
        {
            Log.ManualSkipNothingRetried(_logger);
            return false;
        }

        Log.ManualSkipRequested(_logger);
        old.Source.Cancel();
        return true;
    }

    private void Release(Generation generation)
    {
        lock (_lock)
        {
            generation.Holders--;
        }
    }

    /// <summary>A token taken by a message being retried; <see cref="Release"/> once the message is finished.</summary>
    internal readonly struct Held(ManualSkipSignal signal, Generation generation)
    {
        public CancellationToken Token => generation.Source.Token;

        public void Release() => signal.Release(generation);
    }

    /// <summary>One token and the messages holding it.</summary>
    internal sealed class Generation
    {
        public CancellationTokenSource Source { get; } = new();

        public int Holders { get; set; }
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
