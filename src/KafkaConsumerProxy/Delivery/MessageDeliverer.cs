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
/// Delivers one message to the end: attempts, waits <c>retry_interval_ms</c> between them (at least
/// <see cref="RetryPolicy.MinRetryInterval"/>), reports slow and blocked deliveries, and skips by policy or on the
/// operator's signal.
/// </summary>
/// <remarks>
/// Failed attempts are logged so that a message failing forever cannot flood the log: the first failure of each
/// message (or batch) is logged in full; later failures of a partition are counted and summarised at most every
/// 30 s per partition (<see cref="RepeatedLog{TKey, TNote}"/>): attempts since the last line, the latest offset,
/// attempt and reason. The blocked warnings (every 30 s per blocked message or batch) come on top.
/// </remarks>
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
    private readonly RepeatedLog<(string Topic, int Partition), FailureNote> _failureLog;

    public MessageDeliverer(RouteDefinition route, HttpDeliverer http, SkipLog skipLog, ManualSkipSignal manualSkip, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _route = route;
        _http = http;
        _skipLog = skipLog;
        _manualSkip = manualSkip;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _retryInterval = RetryPolicy.RetryInterval(route);
        _failureLog = new RepeatedLog<(string Topic, int Partition), FailureNote>(time, RepeatedLog<(string, int), FailureNote>.DefaultInterval, (key, summary) =>
            Log.DeliveryFailuresRepeated(_logger, _route.Name, key.Topic, key.Partition, summary.Count, summary.Since.TotalSeconds, summary.Latest.Offset, summary.Latest.Attempt, summary.Latest.Reason));
    }

    /// <summary>The route whose messages this deliverer sends.</summary>
    public RouteDefinition Route => _route;

    /// <summary>The clock of retries, shared with the workers for batch linger.</summary>
    public TimeProvider Time => _time;

    /// <summary>
    /// Delivers <paramref name="record"/>. <paramref name="abandon"/> ends the wait between attempts (revoke or
    /// stop); an attempt already sent is allowed to finish, bounded by <c>exec_timeout_ms</c>.
    /// </summary>
    /// <param name="inFlight">
    /// With async delivery, the member's limit of requests in flight: the caller holds one of its slots for the first
    /// attempt. The slot is given back after every attempt and taken again before the next, so a message waiting to
    /// be retried does not keep other messages from being sent. Returns holding no slot.
    /// </param>
    public async Task<MessageDisposition> DeliverAsync(KafkaRecord record, CancellationToken abandon, SemaphoreSlim? inFlight = null)
    {
        var slot = _http.Hosts.NextSlot();
        var failures = new FailureHistory(_time, _manualSkip);
        FailingEntry? failing = null;
        for (var attempt = 1; ; attempt++)
        {
            if (!await TakeSlotAsync(inFlight, attempt, abandon).ConfigureAwait(false))
            {
                return Done(failing, MessageDisposition.Abandoned);
            }

            DeliveryResult result;
            _metrics.OnAttemptStarted(_route.Name);
            try
            {
                result = await _http.SendAsync(record, slot, attempt).ConfigureAwait(false);
            }
            finally
            {
                inFlight?.Release();
            }

            _metrics.OnAttempt(_route.Name, result);

            if (result.IsSuccess)
            {
                if (_route.SlowTimeMs is { } slow && result.Elapsed.TotalMilliseconds > slow)
                {
                    Log.DeliverySlow(_logger, _route.Name, record.Topic, record.Partition, record.Offset, (long)result.Elapsed.TotalMilliseconds, slow, result.Host);
                }

                _metrics.OnDelivered(_route.Name);
                return Done(failing, MessageDisposition.Delivered);
            }

            var reason = result.Describe();
            _metrics.OnFailedAttempt(_route.Name);
            failing = _metrics.Observations.Failed(_route.Name, record, attempt, result, _time.GetUtcNow());
            LogFailure(record, attempt, reason);
            if (failures.OnFailure(attempt, out var failingFor))
            {
                Log.DeliveryBlocked(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempt, failingFor.TotalSeconds, reason);
            }

            if (RetryPolicy.AfterFailure(_route, attempt) == RetryDecision.Skip)
            {
                return Done(failing, Skip(record, attempt, reason, manual: false));
            }

            if (failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
            {
                return Done(failing, Skip(record, attempt, reason, manual: true, failing.SkippedBy));
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(abandon, failures.ManualSkip, failing.SkipToken, failing.RetryToken);
            try
            {
                await Task.Delay(_retryInterval, _time, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
                {
                    return Done(failing, Skip(record, attempt, reason, manual: true, failing.SkippedBy));
                }

                if (abandon.IsCancellationRequested)
                {
                    return Done(failing, MessageDisposition.Abandoned);
                }

                // An operator asked for the next attempt now.
            }

            if (abandon.IsCancellationRequested)
            {
                return Done(failing, MessageDisposition.Abandoned);
            }
        }
    }

    /// <summary>
    /// Delivers a batch (records of one partition, in the order given; the list is consumed) to the end, reporting each
    /// message to <paramref name="finished"/> as soon as it is delivered or skipped. Messages abandoned on revoke or
    /// stop are not reported. A failed request fails every message in it; a success whose answer lists offsets to
    /// retry fails only those. The messages still failing are sent again together after <c>retry_interval_ms</c>, so
    /// all of them have had the same attempts: <c>retry_nums</c>, blocked reports and manual skips apply to them
    /// alike, while skip records and metrics stay per message.
    /// </summary>
    /// <param name="inFlight">As for <see cref="DeliverAsync"/>: the caller holds a slot for the first attempt.</param>
    public async Task DeliverBatchAsync(List<KafkaRecord> batch, Func<KafkaRecord, MessageDisposition, ValueTask> finished, CancellationToken abandon, SemaphoreSlim? inFlight = null)
    {
        var slot = _http.Hosts.NextSlot();
        var retry = new List<long>();
        var failures = new FailureHistory(_time, _manualSkip);
        FailingEntry? failing = null;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                if (!await TakeSlotAsync(inFlight, attempt, abandon).ConfigureAwait(false))
                {
                    return;
                }

                retry.Clear();
                DeliveryResult result;
                _metrics.OnAttemptStarted(_route.Name);
                try
                {
                    result = await _http.SendBatchAsync(batch, slot, attempt, retry).ConfigureAwait(false);
                }
                finally
                {
                    inFlight?.Release();
                }

                _metrics.OnAttempt(_route.Name, result);

                string reason;
                if (result.IsSuccess)
                {
                    var first = batch[0];
                    if (_route.SlowTimeMs is { } slow && result.Elapsed.TotalMilliseconds > slow)
                    {
                        Log.DeliverySlow(_logger, _route.Name, first.Topic, first.Partition, first.Offset, (long)result.Elapsed.TotalMilliseconds, slow, result.Host);
                    }

                    retry.Sort();
                    var kept = 0;
                    for (var i = 0; i < batch.Count; i++)
                    {
                        var record = batch[i];
                        if (retry.BinarySearch(record.Offset) >= 0)
                        {
                            batch[kept++] = record;
                            continue;
                        }

                        _metrics.OnDelivered(_route.Name);
                        await finished(record, MessageDisposition.Delivered).ConfigureAwait(false);
                    }

                    batch.RemoveRange(kept, batch.Count - kept);
                    if (kept == 0)
                    {
                        return;
                    }

                    reason = (result with { Outcome = DeliveryOutcome.RetryListed, Reason = "named in the answer's retry list" }).Describe();
                }
                else
                {
                    reason = result.Describe();
                }

                var head = batch[0];
                for (var i = 0; i < batch.Count; i++)
                {
                    _metrics.OnFailedAttempt(_route.Name);
                }

                // The batch is shown (and skipped or retried by an operator) through its first message.
                if (failing is not null && failing.Record.Offset != head.Offset)
                {
                    _metrics.Observations.Finished(failing);
                }

                failing = _metrics.Observations.Failed(_route.Name, head, attempt, result, _time.GetUtcNow());

                // One line per batch, not per message: a failing batch of hundreds would otherwise flood the log.
                var described = batch.Count == 1 ? reason : $"{reason} (batch of {batch.Count}: offsets {RequestBuilder.DescribeOffsets(batch)})";
                LogFailure(head, attempt, described);
                if (failures.OnFailure(attempt, out var failingFor))
                {
                    Log.DeliveryBlocked(_logger, _route.Name, head.Topic, head.Partition, head.Offset, attempt, failingFor.TotalSeconds, described);
                }

                var skip = RetryPolicy.AfterFailure(_route, attempt) == RetryDecision.Skip;
                if (skip || failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
                {
                    await SkipAllAsync(batch, attempt, reason, manual: !skip, finished, skip ? null : failing.SkippedBy).ConfigureAwait(false);
                    return;
                }

                using var wait = CancellationTokenSource.CreateLinkedTokenSource(abandon, failures.ManualSkip, failing.SkipToken, failing.RetryToken);
                try
                {
                    await Task.Delay(_retryInterval, _time, wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
                    {
                        await SkipAllAsync(batch, attempt, reason, manual: true, finished, failing.SkippedBy).ConfigureAwait(false);
                        return;
                    }

                    if (abandon.IsCancellationRequested)
                    {
                        return;
                    }

                    // An operator asked for the next attempt now.
                }

                if (abandon.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        finally
        {
            _metrics.Observations.Finished(failing);
        }
    }

    private MessageDisposition Done(FailingEntry? failing, MessageDisposition disposition)
    {
        _metrics.Observations.Finished(failing);
        return disposition;
    }

    // The first failure of a message or batch is logged; later ones are summarised per partition (see the remarks).
    private void LogFailure(KafkaRecord head, int attempt, string reason)
    {
        if (_failureLog.ShouldLog((head.Topic, head.Partition), new FailureNote(head.Offset, attempt, reason), always: attempt == 1))
        {
            Log.DeliveryFailed(_logger, _route.Name, head.Topic, head.Partition, head.Offset, attempt, reason);
        }
    }

    /// <summary>Before a retry, waits for a slot of the in-flight limit; false when abandoned meanwhile. The first attempt's slot is the caller's.</summary>
    private static async ValueTask<bool> TakeSlotAsync(SemaphoreSlim? inFlight, int attempt, CancellationToken abandon)
    {
        if (inFlight is null || attempt == 1)
        {
            return true;
        }

        try
        {
            await inFlight.WaitAsync(abandon).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task SkipAllAsync(List<KafkaRecord> batch, int attempts, string reason, bool manual, Func<KafkaRecord, MessageDisposition, ValueTask> finished, string? by = null)
    {
        foreach (var record in batch)
        {
            await finished(record, Skip(record, attempts, reason, manual, by)).ConfigureAwait(false);
        }
    }

    private MessageDisposition Skip(KafkaRecord record, int attempts, string reason, bool manual, string? by = null)
    {
        _skipLog.Write(new SkipRecord(_time.GetUtcNow(), _route.Name, record.Topic, record.Partition, record.Offset, record.Key, attempts, reason, manual, by));
        if (manual && by is not null)
        {
            Log.MessageSkippedByOperator(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempts, by, reason);
        }
        else if (manual)
        {
            Log.MessageSkippedManually(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempts, reason);
        }
        else
        {
            Log.MessageSkipped(_logger, _route.Name, record.Topic, record.Partition, record.Offset, attempts, reason);
        }

        _metrics.OnSkipped(_route.Name, manual);
        return MessageDisposition.Skipped;
    }
}

/// <summary>The latest failed attempt of a partition, for its summary line.</summary>
internal readonly record struct FailureNote(long Offset, int Attempt, string Reason);
