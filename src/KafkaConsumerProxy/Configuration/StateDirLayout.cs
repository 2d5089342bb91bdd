using System.Globalization;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The names of the entries kcp keeps in <c>state_dir</c> for its offset records and its skip records. They are declared
/// here, below the code that writes the entries (<c>Offsets/LocalOffsetStore</c>, <c>Delivery/SkipLog</c>), so that
/// the loader's check of <c>state_dir</c> (<see cref="StateDirRules"/>) names the very entries that code opens.
/// </summary>
internal static class StateDirLayout
{
    /// <summary>The directory of the local offset records: one file per partition, named <see cref="RecordFileName"/>.</summary>
    public const string OffsetsDirectory = "offsets";

    /// <summary>The file the skip records are appended to.</summary>
    public const string SkipLogFile = "skipped.jsonl";

    /// <summary>
    /// The name of a partition's record file in <see cref="OffsetsDirectory"/>:
    /// <c>{cluster}~{group}~{topic}~{partition}.offset</c>, the names percent-encoded. The loader checks its length.
    /// </summary>
    public static string RecordFileName(PartitionKey key) =>
        string.Create(CultureInfo.InvariantCulture, $"{Escape(key.Cluster)}~{Escape(key.Group)}~{Escape(key.Topic)}~{key.Partition}.offset");

    // Group and cluster names may hold characters a file name cannot; topic names are already safe.
    private static string Escape(string name) => Uri.EscapeDataString(name).Replace("~", "%7E", StringComparison.Ordinal);
}
