using System.Text.RegularExpressions;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>Configuration error lines as printed, for tests about their file, key, value and message rather than their position.</summary>
internal static partial class ConfigLines
{
    /// <summary>Each line with the <c>:line:column</c> after the config file's path removed.</summary>
    public static List<string> Unlocated(IEnumerable<string> lines) => [.. lines.Select(l => Position().Replace(l, "$1: ", 1))];

    [GeneratedRegex(@"^(.+?\.(?:yaml|yml|json)):[0-9]+:[0-9]+: ")]
    private static partial Regex Position();
}
