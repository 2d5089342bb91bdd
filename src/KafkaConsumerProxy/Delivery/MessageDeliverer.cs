using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>How a message left the delivery loop.</summary>
public enum MessageDisposition
{
    /// <summary>The endpoint accepted it: may be committed.</summary>
    Delivered,

    /// <summary>Skipped by policy or by hand, with a skip record written: may be committed.</summary>
    Skipped,

    /// <summary>Given up because the partition was revoked or the process is stopping: must not be committed.</summary>
    Abandoned,
}

/// <summary>
/// Delivers one message to the end: attempts, waits <c>retry_interval_ms</c> between them, reports slow and
/// blocked deliveries, and skips by policy or on the operator's signal.
/// </summary>
public sealed class MessageDeliverer
{
    private readonly RouteDefinition _route;
    private readonly HttpDeliverer _http;
    private readonly SkipLog _skipLog;
    private readonly ManualSkipSignal _manualSkip;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryInterval;

    public MessageDeliverer(RouteDefinition route, HttpDeliverer http, SkipLog skipLog, ManualSkipSignal manualSkip, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _route = route;
        _http = http;
        _skipLog = skipLog;
        _manualSkip = manualSkip;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _retryInterval = TimeSpan.FromMilliseconds(route.RetryIntervalMs);
    }

    /// <summary>
    /// Delivers <paramref name="record"/>. <paramref name="abandon"/> ends the wait between attempts (revoke or
    /// stop); an attempt already sent is allowed to finish, bounded by <c>exec_timeout_ms</c>.
    /// </summary>
    public async Task<MessageDisposition> DeliverAsync(KafkaRecord record, CancellationToken abandon)
    {
        var slot = _http.Hosts.NextSlot();
        CancellationToken manualSkip = default;
        long firstFailure = 0;
        long lastBlockedReport = 0;
        for (var attempt = 1; ; attempt++)
        {
            var result = await _http.SendAsync(record, slot, attempt).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                if (_route.SlowTimeMs is { } slow && result.Elapsed.TotalMilliseconds > slow)
                {
                    Log.DeliverySlow(_logger, _route.Name, record.Topic, record.Partition, record.Offset, (long)result.Elapsed.TotalMilliseconds, slow, result.Host);
                }

                _metrics.OnDelivered(_route.Name);
                return MessageDisposition.Delivered;
            }

            var reason = result.Describe();
            _metrics.OnFailedAttempt(_route.Name);
            Log.DeliveryFailed(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempt, reason);
            var now = _time.GetTimestamp();
            if (attempt == 1)
            {
                firstFailure = now;
                manualSkip = _manualSkip.Token;
            }

            if (attempt >= RetryPolicy.BlockedAfterAttempts
                && (lastBlockedReport == 0 || _time.GetElapsedTime(lastBlockedReport, now) >= RetryPolicy.BlockedReportInterval))
            {
                lastBlockedReport = now;
                Log.DeliveryBlocked(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempt, _time.GetElapsedTime(firstFailure, now).TotalSeconds, reason);
            }

            if (RetryPolicy.AfterFailure(_route, attempt) == RetryDecision.Skip)
            {
                return Skip(record, attempt, reason, manual: false);
            }

            if (manualSkip.IsCancellationRequested)
            {
                return Skip(record, attempt, reason, manual: true);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(abandon, manualSkip);
            try
            {
                await Task.Delay(_retryInterval, _time, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (manualSkip.IsCancellationRequested)
                {
                    return Skip(record, attempt, reason, manual: true);
                }

                return MessageDisposition.Abandoned;
            }

            if (abandon.IsCancellationRequested)
            {
                return MessageDisposition.Abandoned;
            }
        }
    }

    private MessageDisposition Skip(KafkaRecord record, int attempts, string reason, bool manual)
    {
        _skipLog.Write(new SkipRecord(_time.GetUtcNow(), _route.Name, record.Topic, record.Partition, record.Offset, record.Key, attempts, reason, manual));
        if (manual)
        {
            Log.MessageSkippedManually(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempts, reason);
        }
        else
        {
            Log.MessageSkipped(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempts, reason);
        }

        _metrics.OnSkipped(_route.Name);
        return MessageDisposition.Skipped;
    }
}
