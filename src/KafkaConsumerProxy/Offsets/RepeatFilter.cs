using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// One partition's repeat filter, owned by its <see cref="PartitionOffsets"/>: tells the messages below its trusted local
/// record (delivered before, per this machine's record), which the offsets then finish without a delivery, and reports,
/// at the first message after assignment, a gap between the record and what the cluster serves.
/// <para>
/// Filtering is never silent: the first filtered message is logged at warning, then a count at most every
/// <see cref="ReportInterval"/>, and the total once filtering ends (at the record, at the first message past it, or
/// when the partition is released).
/// </para>
/// </summary>
internal sealed class RepeatFilter
{
    /// <summary>At most one "still filtering" line per partition per 30 s.</summary>
    public static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(30);

    private readonly string _route;
    private readonly string _topic;
    private readonly int _partition;
    private readonly LocalRecord _record;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private bool _seenFirst;
    private bool _ended;
    private long _filtered;
    private long _lastReport;

    public RepeatFilter(string route, string topic, int partition, LocalRecord record, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _route = route;
        _topic = topic;
        _partition = partition;
        _record = record;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    /// <summary>The trusted record this filter works from.</summary>
    public LocalRecord Record => _record;

    /// <summary>A new filter on the same record, counting afresh (a paused partition's filter is set up again on resume).</summary>
    public RepeatFilter Again() => new(_route, _topic, _partition, _record, _metrics, _logger, _time);

    /// <summary>Messages filtered so far.</summary>
    public long Filtered => _filtered;

    /// <summary>
    /// True when <paramref name="offset"/> is below the record: its offsets finish it without delivery so the commit
    /// moves past it. False at the first offset at or beyond the record, after which the filter can be dropped.
    /// </summary>
    public bool IsRepeat(long offset)
    {
        if (!_seenFirst)
        {
            _seenFirst = true;
            if (offset > _record.NextOffset)
            {
                Log.OffsetGap(_logger, _route, _topic, _partition, offset, _record.LastDone, offset - _record.NextOffset);
            }
        }

        if (offset >= _record.NextOffset)
        {
            End();
            return false;
        }

        _filtered++;
        _metrics.OnRepeatFiltered(_route);
        if (_filtered == 1)
        {
            Log.RepeatFilteringStarted(_logger, _route, _topic, _partition, offset, _record.LastDone);
            _lastReport = _time.GetTimestamp();
        }
        else if (_time.GetElapsedTime(_lastReport) >= ReportInterval)
        {
            Log.RepeatFilteringProgress(_logger, _route, _topic, _partition, _filtered, offset, _record.LastDone);
            _lastReport = _time.GetTimestamp();
        }

        if (offset == _record.LastDone)
        {
            // Nothing after it can be below the record: filtering ends here, not at a next message that may never come.
            End();
        }

        return true;
    }

    /// <summary>Reports the total if filtering was under way (the partition is released).</summary>
    public void Stop() => End();

    private void End()
    {
        if (_filtered > 0 && !_ended)
        {
            Log.RepeatsFiltered(_logger, _route, _topic, _partition, _filtered, _record.LastDone);
        }

        _ended = true;
    }
}
