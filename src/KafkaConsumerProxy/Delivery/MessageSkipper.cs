using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Skips a route's messages for <see cref="MessageDeliverer"/>: into the dead-letter topic first when the route has one
/// (<see cref="DeadLetterWriter"/>), then the skip record (<see cref="SkipLog"/>), the log line and the metrics. One
/// instance per route.
/// </summary>
internal sealed class MessageSkipper(RouteDefinition route, SkipLog skipLog, ProxyMetrics metrics, ILogger logger, TimeProvider time, DeadLetterWriter? deadLetter)
{
    private readonly RouteDefinition _route = route;
    private readonly SkipLog _skipLog = skipLog;
    private readonly ProxyMetrics _metrics = metrics;
    private readonly ILogger _logger = logger;
    private readonly TimeProvider _time = time;
    private readonly DeadLetterWriter? _deadLetter = deadLetter;
    private int _deadLetterWithoutTopicLogged;

    public SkipDetails SeekDetails(SeekPass pass)
    {
        var now = _time.GetUtcNow();
        return new SkipDetails(SkipKind.Seek, 0, now, $"passed by an operator's seek to offset {pass.To}", null, null, now);
    }

    /// <summary>
    /// What an answer with <c>Kcp-Action: skip</c> or <c>dead-letter</c> skips with (<paramref name="result"/>'s
    /// <see cref="DeliveryResult.Action"/>): kind endpoint, and for a <c>dead-letter</c> on a route without a dead-letter
    /// topic a reason that says so (and a log line, once per route). <paramref name="inActions"/>: the action was named
    /// for this message in the <c>actions</c> of a batch's answer, not in the header.
    /// </summary>
    public SkipDetails EndpointSkip(KafkaRecord head, DeliveryResult result, int attempt, DateTimeOffset firstFailureAt, bool inActions = false)
    {
        // The action names one of a fixed set of words: nothing of the endpoint's text.
        var reason = inActions ? $"\"actions\": {EndpointActions.Name(result.Action)} in the answer, HTTP {result.StatusCode} from {result.Host}" : result.Describe();
        if (result.Action == EndpointAction.DeadLetter && _deadLetter is null)
        {
            reason += ", but the route has no dead_letter_topic: skipped without one";
            if (Interlocked.Exchange(ref _deadLetterWithoutTopicLogged, 1) == 0)
            {
                Log.EndpointDeadLetterWithoutTopic(_logger, _route.Name, head.Topic, head.Partition, head.Offset);
            }
        }

        return new SkipDetails(SkipKind.Endpoint, attempt, firstFailureAt, reason, result.StatusCode, result.BodyStart, _time.GetUtcNow()) { Action = result.Action };
    }

    public async Task SkipAllAsync(List<KafkaRecord> batch, SkipDetails details, Func<KafkaRecord, MessageDisposition, ValueTask> finished, CancellationToken abandon, string? by = null)
    {
        foreach (var record in batch)
        {
            var disposition = await SkipAsync(record, details, abandon, by).ConfigureAwait(false);
            if (disposition == MessageDisposition.Abandoned)
            {
                // This one and the rest stay unfinished for whoever takes the partition next.
                return;
            }

            await finished(record, disposition).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Skips one message: first into the dead-letter topic when the route has one (waiting as long as that takes; the
    /// message is abandoned, not skipped, when the partition is given up meanwhile), then the skip record. The
    /// endpoint's <c>Kcp-Action: skip</c> skips without the dead-letter topic.
    /// </summary>
    public async ValueTask<MessageDisposition> SkipAsync(KafkaRecord record, SkipDetails details, CancellationToken abandon, string? by = null)
    {
        // The skip record's append waits for the disk: never on a socket thread (socket_completions: inline).
        await BlockingStep.OffSocketThread();
        DeadLetterPosition? position = null;
        if (_deadLetter is not null && details.Action != EndpointAction.Skip)
        {
            position = await _deadLetter.WriteAsync(record, details, abandon).ConfigureAwait(false);
            if (position is null)
            {
                return MessageDisposition.Abandoned;
            }

            _metrics.OnDeadLettered(_route.Name);
        }

        var (attempts, reason, kind) = (details.Attempts, details.LastFailure, details.Kind);
        var manual = kind is SkipKind.Manual or SkipKind.Seek;
        _skipLog.Write(new SkipRecord(_time.GetUtcNow(), _route.Name, record.Topic, record.Partition, record.Offset, record.Key, attempts, reason, manual)
        {
            Kind = kind,
            Status = details.LastStatus,
            DeadLetter = position,
            By = by,
            Action = details.Action == EndpointAction.None ? null : EndpointActions.Name(details.Action),
        });
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

        _metrics.OnSkipped(_route.Name, kind.ToString().ToLowerInvariant());
        return MessageDisposition.Skipped;
    }
}
