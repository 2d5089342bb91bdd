using Confluent.Kafka;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// What a route member's Kafka client reports: its log (at debug), its errors and its consume errors. A fatal error
/// ends the member (<see cref="Fatal"/>); every error is passed to <paramref name="observed"/> for the route's status.
/// Called back on the consume thread only.
/// </summary>
internal sealed class ClientReports(MemberParts parts, Action<string>? observed) : IDisposable
{
    private volatile string? _fatal;
    private RepeatedLog<(bool Consume, ErrorCode Code), string>? _repeated;

    /// <summary>The reason of a fatal client error; null while there was none.</summary>
    public string? Fatal => _fatal;

    public void OnLog(LogMessage message)
    {
        if (parts.Logger.IsEnabled(LogLevel.Debug))
        {
            Log.KafkaLog(parts.Logger, parts.Route.Name, parts.Member, message.Facility, message.Message);
        }
    }

    public void OnError(Error error)
    {
        if (error.IsFatal)
        {
            _fatal = error.Reason;
            observed?.Invoke($"fatal Kafka client error: {error.Reason}");
            Log.KafkaFatal(parts.Logger, parts.Route.Name, parts.Member, error.Reason);
        }
        else
        {
            Report(error, consume: false);
        }
    }

    /// <summary>
    /// A broker outage makes librdkafka report the same error many times a second: per member and error code the
    /// first one is logged, then a count at most every 30 s (<see cref="RepeatedLog{TKey, TNote}"/>). Errors and
    /// consume errors are called back on the consume thread only, so the lazy start needs no lock.
    /// </summary>
    public void Report(Error error, bool consume)
    {
        var route = parts.Route.Name;
        var member = parts.Member;
        var logger = parts.Logger;
        _repeated ??= new RepeatedLog<(bool Consume, ErrorCode Code), string>(parts.Time, RepeatedLog<(bool, ErrorCode), string>.DefaultInterval, (key, summary) =>
        {
            if (key.Consume)
            {
                Log.ConsumeErrorsRepeated(logger, route, member, key.Code.ToString(), summary.Count, summary.Since.TotalSeconds, summary.Latest);
            }
            else
            {
                Log.KafkaErrorsRepeated(logger, route, member, key.Code.ToString(), summary.Count, summary.Since.TotalSeconds, summary.Latest);
            }
        });
        var reason = LogText.Escape(error.Reason, DeliveryResult.MaxReasonChars);
        observed?.Invoke($"{error.Code}: {reason}");
        if (!_repeated.ShouldLog((consume, error.Code), reason))
        {
            return;
        }

        if (consume)
        {
            Log.ConsumeError(logger, route, member, reason);
        }
        else
        {
            Log.KafkaError(logger, route, member, reason);
        }
    }

    /// <summary>Error counts not yet reported are written out now instead of being lost with the member.</summary>
    public void Dispose() => _repeated?.Dispose();
}
