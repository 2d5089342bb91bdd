using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The rules of <c>retry_topic</c> and <c>retry_topic_delays_ms</c> (<see cref="RetryLaneSettings"/>). A message that
/// leaves its partition for the retry topic is delivered after the messages behind it, so the lane is refused wherever
/// the route promises an order: sync delivery (offset order per partition) and <c>ordering: key</c> (offset order per
/// key). A batch's failing messages are retried together in place, so the lane takes only <c>batch_size: 1</c>.
/// </summary>
internal static class RetryLaneRules
{
    private const string OrderLost = "a failing message that leaves its partition for the retry topic is delivered after the messages behind it";

    /// <summary>Checks the lane's keys of <paramref name="route"/>, with the values of the other keys the rules read.</summary>
    public static void Check(KeyChecker check, RouteBinding route, int asyncConcurrency, DeliveryOrdering ordering, int batchSize, string topic, string cluster)
    {
        var before = check.ErrorCount;
        var laneTopic = check.String(route[RetryLaneSettings.TopicKey]);
        var delays = check.IntList(route[RetryLaneSettings.DelaysMsKey]);
        if (check.ErrorCount != before)
            return;

        var delaysText = delays is null ? null : "[" + string.Join(", ", delays.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
        if (delays is not null && laneTopic is null)
            check.Error("retry_topic_delays_ms", delaysText, "applies only with retry_topic");
        else if (delays is not null && (delays.Count == 0 || delays.Count > RetryLaneSettings.MaxRounds))
            check.Error("retry_topic_delays_ms", delaysText, string.Create(CultureInfo.InvariantCulture, $"must hold 1 to {RetryLaneSettings.MaxRounds} delays, one per round of the retry lane, e.g. [1000, 10000, 60000]"));
        if (laneTopic is null)
            return;

        var deadLetterTopic = route[DeadLetterSettings.TopicKey].Value as string;
        var deadLetterCluster = route[DeadLetterSettings.ClusterKey].Value as string ?? cluster;
        if (!RouteValidator.IsKafkaTopicName(laneTopic))
            check.Error("retry_topic", laneTopic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'");
        else if (laneTopic == topic)
            check.Error("retry_topic", laneTopic, "must not be the route's own topic: the retry lane is a topic of its own, consumed by the route's members in the group '<group>.retry'");
        else if (laneTopic == deadLetterTopic && deadLetterCluster == cluster)
            check.Error("retry_topic", laneTopic, "must not be the route's dead_letter_topic: messages given up on would be delivered again");

        if (asyncConcurrency == 0)
            check.Error("retry_topic", laneTopic, $"needs async_concurrency > 0 and ordering: none; sync delivery (async_concurrency 0) keeps each partition in offset order, which cannot hold: {OrderLost}");
        else if (ordering == DeliveryOrdering.Key)
            check.Error("retry_topic", laneTopic, $"needs ordering: none; ordering: key (the default) keeps each key's messages in offset order, which cannot hold: {OrderLost}");
        if (batchSize > 1)
            check.Error("retry_topic", laneTopic, string.Create(CultureInfo.InvariantCulture, $"applies only with batch_size 1 (this file has {batchSize}): a batch's failing messages are retried together in place"));
    }
}
