namespace KafkaConsumerProxy.Configuration;

/// <summary>Where a route's skipped messages are written (<c>dead_letter_topic</c>, <c>dead_letter_cluster</c>).</summary>
internal sealed record DeadLetterSettings
{
    /// <summary><c>dead_letter_topic</c>: null (default) = skipped messages are only recorded in <c>skipped.jsonl</c>.</summary>
    public string? Topic { get; init; }

    public static readonly RouteKey TopicKey = RouteKey.String("dead_letter_topic") with { Description = "Skipped messages are written to this topic before the skip counts; default none." };

    /// <summary><c>dead_letter_cluster</c>: an entry of <c>clusters</c>; null = the route's own cluster.</summary>
    public string? Cluster { get; init; }

    public static readonly RouteKey ClusterKey = RouteKey.String("dead_letter_cluster") with { Description = "Cluster of dead_letter_topic; default the route's cluster; only with dead_letter_topic." };

    /// <summary>True when skipped messages go to a dead-letter topic.</summary>
    public bool Enabled => Topic is not null;
}
