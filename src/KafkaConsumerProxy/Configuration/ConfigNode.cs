namespace KafkaConsumerProxy.Configuration;

/// <summary>A format-neutral document tree, so that YAML and JSON files are validated by the same code.</summary>
internal abstract record ConfigNode
{
    /// <summary>"a string", "a mapping", ... for messages such as "must be an integer, got a mapping".</summary>
    public abstract string Kind { get; }

    /// <summary>The line where the node starts in a YAML file (from 1); 0 when unknown (JSON files).</summary>
    public int Line { get; init; }

    /// <summary>The column where the node starts in a YAML file (from 1); 0 when unknown.</summary>
    public int Column { get; init; }
}

/// <summary>A scalar's text as written; <paramref name="IsQuoted"/> for quoted YAML and JSON strings.</summary>
internal sealed record ScalarNode(string Text, bool IsQuoted, bool IsNull) : ConfigNode
{
    public override string Kind => IsNull ? "null" : "a scalar";
}

/// <summary>Keys in file order; duplicates were reported while building the tree.</summary>
internal sealed record MappingNode(IReadOnlyList<KeyValuePair<string, ConfigNode>> Entries) : ConfigNode
{
    public override string Kind => "a mapping";

    /// <summary>Where each key of <see cref="Entries"/> is written (line, column), in the same order; empty when unknown.</summary>
    public IReadOnlyList<(int Line, int Column)> KeyMarks { get; init; } = [];
}

/// <summary>A list; its items in file order.</summary>
internal sealed record SequenceNode(IReadOnlyList<ConfigNode> Items) : ConfigNode
{
    public override string Kind => "a sequence";
}
