namespace KafkaConsumerProxy.Configuration;

/// <summary>Reads the <c>fleet</c> section of the main config file.</summary>
internal static class FleetSectionReader
{
    // Kafka's own rule for topic names.
    private const int MaxTopicLength = 249;

    /// <summary>
    /// The <c>fleet</c> section: <c>control_topic</c> (a Kafka topic name; default
    /// <see cref="FleetSettings.DefaultControlTopic"/>) and <c>heartbeat_ms</c>. Without the section, <see cref="FleetSettings.Off"/>;
    /// <c>fleet: {}</c> turns it on with the defaults. Null when the section has an error.
    /// </summary>
    public static FleetSettings? Read(MapReader main, List<ConfigError> errors)
    {
        var before = errors.Count;
        var node = main.Mapping(MainFileKeys.Fleet);
        if (errors.Count != before)
            return null;
        if (node is null)
            return FleetSettings.Off;

        var reader = new MapReader(main.File, node, errors, "fleet.");
        var topic = reader.String(MainFileKeys.Of(MainFileKeys.FleetKeys, "control_topic"));
        var heartbeat = reader.Int(MainFileKeys.Of(MainFileKeys.FleetKeys, "heartbeat_ms"));
        reader.ReportUnknownKeys();
        if (topic is not null && TopicProblem(topic) is { } problem)
            reader.Error("control_topic", topic, problem);
        if (errors.Count != before)
            return null;
        return new FleetSettings
        {
            ControlTopic = topic ?? FleetSettings.DefaultControlTopic,
            HeartbeatMs = heartbeat ?? FleetSettings.DefaultHeartbeatMs,
        };
    }

    private static string? TopicProblem(string topic)
    {
        if (topic.Length is 0 or > MaxTopicLength || topic is "." or "..")
            return $"must be a Kafka topic name of 1 to {MaxTopicLength} characters, not . or ..";
        return topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? null
            : "must be a Kafka topic name: only ASCII letters, digits, '.', '_' and '-'";
    }
}
