namespace KafkaConsumerProxy.Configuration;

/// <summary>Reads the <c>logging</c> section of the main config file: <c>format</c> and <c>level</c>.</summary>
internal static class LoggingSectionReader
{
    /// <summary>The section's settings (<see cref="LoggingSettings.Default"/> without it); null when it has an error.</summary>
    public static LoggingSettings? Read(MapReader main, List<ConfigError> errors)
    {
        var before = errors.Count;
        var node = main.Mapping(MainFileKeys.Logging);
        if (errors.Count != before)
            return null;
        if (node is null)
            return LoggingSettings.Default;

        var reader = new MapReader(main.File, node, errors, "logging.");
        var format = reader.Choice(MainFileKeys.Of(MainFileKeys.LoggingKeys, "format"));
        var level = reader.Choice(MainFileKeys.Of(MainFileKeys.LoggingKeys, "level"));
        reader.ReportUnknownKeys();
        if (errors.Count != before)
            return null;
        return new LoggingSettings
        {
            Format = format ?? LoggingSettings.Default.Format,
            Level = level ?? LoggingSettings.Default.Level,
        };
    }
}
