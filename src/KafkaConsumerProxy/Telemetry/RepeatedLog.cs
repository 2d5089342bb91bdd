using System.Collections.Concurrent;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>What a <see cref="RepeatedLog{TKey, TNote}"/> summary reports: lines not written since the last one.</summary>
/// <param name="Count">Occurrences that were counted instead of logged.</param>
/// <param name="Since">Time since the last line for the key (a full line or a summary).</param>
/// <param name="Latest">The note of the latest counted occurrence.</param>
internal readonly record struct RepeatSummary<TNote>(long Count, TimeSpan Since, TNote Latest);

/// <summary>
/// Keeps a repeating log line readable: per key (a partition, an error code), the first occurrence is written in full;
/// later ones within <see cref="Interval"/> of the key's last line are only counted, and once the interval has passed a
/// summary of them is written (attempts so far, the latest occurrence). The summary comes from a timer of the
/// <see cref="TimeProvider"/>, so it is written even when the occurrences stop, and tests drive it with a fake clock.
/// An occurrence after a quiet interval is written in full again.
/// </summary>
internal sealed class RepeatedLog<TKey, TNote> : IDisposable
    where TKey : notnull
{
    /// <summary>The interval used by kcp's summaries: at most one summary line per key every 30 s.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _time;
    private readonly Action<TKey, RepeatSummary<TNote>> _summary;
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();
    private bool _disposed;

    /// <param name="time">The clock and timers.</param>
    /// <param name="interval">The shortest time between two lines of one key.</param>
    /// <param name="summary">Writes a summary line; called from a timer, never under a lock of the caller.</param>
    public RepeatedLog(TimeProvider time, TimeSpan interval, Action<TKey, RepeatSummary<TNote>> summary)
    {
        _time = time;
        Interval = interval;
        _summary = summary;
    }

    public TimeSpan Interval { get; }

    /// <summary>
    /// Records an occurrence; true when the caller should write it in full now. With <paramref name="always"/> (e.g.
    /// the first failure of each message) it is always written and does not move the key's summary schedule.
    /// </summary>
    public bool ShouldLog(TKey key, TNote note, bool always = false)
    {
        var entry = _entries.GetOrAdd(key, static (k, self) => new Entry(self, k), this);
        lock (entry)
        {
            var now = _time.GetTimestamp();
            if (entry.LastLine is null || (entry.Counted == 0 && _time.GetElapsedTime(entry.LastLine.Value, now) >= Interval))
            {
                entry.LastLine = now;
                return true;
            }

            if (always)
            {
                return true;
            }

            entry.Counted++;
            entry.Latest = note;
            if (!entry.Armed && !_disposed)
            {
                var due = Interval - _time.GetElapsedTime(entry.LastLine.Value, now);
                entry.Armed = true;
                entry.Timer.Change(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            }

            return false;
        }
    }

    /// <summary>Writes the summaries still due now (e.g. at stop) and stops the timers.</summary>
    public void Dispose()
    {
        foreach (var entry in _entries.Values)
        {
            lock (entry)
            {
                _disposed = true;
                entry.Timer.Dispose();
            }

            entry.Flush();
        }
    }

    private sealed class Entry
    {
        private readonly RepeatedLog<TKey, TNote> _owner;
        private readonly TKey _key;

        public Entry(RepeatedLog<TKey, TNote> owner, TKey key)
        {
            _owner = owner;
            _key = key;
            Timer = owner._time.CreateTimer(static state => ((Entry)state!).Flush(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public ITimer Timer { get; }

        public long? LastLine { get; set; }

        public long Counted { get; set; }

        public TNote Latest { get; set; } = default!;

        public bool Armed { get; set; }

        public void Flush()
        {
            RepeatSummary<TNote> summary;
            lock (this)
            {
                Armed = false;
                if (Counted == 0)
                {
                    return;
                }

                var now = _owner._time.GetTimestamp();
                summary = new RepeatSummary<TNote>(Counted, _owner._time.GetElapsedTime(LastLine!.Value, now), Latest);
                Counted = 0;
                LastLine = now;
            }

            try
            {
                _owner._summary(_key, summary);
            }
            catch (ObjectDisposedException)
            {
                // The logger went away at shutdown; the summary has nowhere to go.
            }
        }
    }
}
