namespace KafkaConsumerProxy.Configuration;

/// <summary>How kcp writes its log lines (<c>logging</c> in kcp.yaml; <c>--log-format</c> and <c>--log-level</c> win over it).</summary>
internal sealed record LoggingSettings
{
    /// <summary>The formats of <c>logging.format</c> and <c>--log-format</c>.</summary>
    public static readonly string[] Formats = ["text", "json"];

    /// <summary>The levels of <c>logging.level</c> and <c>--log-level</c>, from the most to the least verbose.</summary>
    public static readonly string[] Levels = ["trace", "debug", "information", "warning", "error", "critical"];

    /// <summary>The default: one text line per event at <c>information</c> and above.</summary>
    public static LoggingSettings Default { get; } = new();

    /// <summary><c>format</c>: <c>text</c> (the default: one line per event) or <c>json</c> (one JSON object per line).</summary>
    /// <value>The default value is <c>text</c>.</value>
    public string Format { get; init; } = "text";

    /// <summary><c>level</c>: the least severe level written.</summary>
    /// <value>The default value is <c>information</c>.</value>
    public string Level { get; init; } = "information";

    /// <summary>True for <c>format: json</c>.</summary>
    public bool Json => Format == "json";

    /// <summary>As a reload's message shows it, e.g. <c>format json, level information</c>.</summary>
    public override string ToString() => $"format {Format}, level {Level}";
}
