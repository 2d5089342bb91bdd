using Confluent.Kafka;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Publishes a route member's partitions (offsets, lag, oldest unfinished message) for the admin endpoint from the consume
/// loop, about once a second (every value read is local to the client: no request), and withdraws released ones.
/// </summary>
internal sealed class PartitionViews(MemberParts parts, RouteObservations observations)
{
    private static readonly TimeSpan PublishInterval = TimeSpan.FromSeconds(1);
    private readonly HashSet<int> _published = [];
    private long _lastPublish;

    /// <summary>The next <see cref="Publish"/> publishes whatever the time (a seek moved partitions).</summary>
    public void PublishSoon() => _lastPublish = 0;

    public void Publish(IConsumer<byte[]?, byte[]?> consumer, Dictionary<int, PartitionSession> sessions)
    {
        if (_lastPublish != 0 && parts.Time.GetElapsedTime(_lastPublish) < PublishInterval)
        {
            return;
        }

        _lastPublish = parts.Time.GetTimestamp();
        var now = parts.Time.GetUtcNow();
        foreach (var (number, session) in sessions)
        {
            observations.Publish(session.View(consumer, now));
            _published.Add(number);
        }

        _published.RemoveWhere(p =>
        {
            if (sessions.ContainsKey(p))
            {
                return false;
            }

            observations.Unpublish(parts.Route.Name, p, parts.Member);
            return true;
        });
    }

    public void UnpublishAll()
    {
        foreach (var p in _published)
        {
            observations.Unpublish(parts.Route.Name, p, parts.Member);
        }

        _published.Clear();
    }
}
