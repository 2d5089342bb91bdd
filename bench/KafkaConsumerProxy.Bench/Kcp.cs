using System.Text.RegularExpressions;

namespace KafkaConsumerProxy.Bench;

/// <summary>The published kcp executable: validates configs and runs them as separate processes.</summary>
internal sealed partial class Kcp(string executable, IReadOnlyDictionary<string, string> environment)
{
    /// <summary>
    /// Runs <c>kcp validate</c>. Returns null when the config is valid, the name of the first key this build does
    /// not know when that is why it failed; throws for any other validation error (a bug in the benchmark).
    /// </summary>
    public async Task<string?> UnsupportedKeyAsync(string configFile)
    {
        var (exitCode, output) = await ChildProcess.RunAsync("kcp validate", executable, ["validate", "--config", configFile], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (exitCode == 0)
        {
            return null;
        }

        var unknown = UnknownKey().Match(output);
        return unknown.Success
            ? unknown.Groups["key"].Value
            : throw new InvalidOperationException($"kcp validate failed (exit {exitCode}) on {configFile}:\n{output}");
    }

    /// <summary>Starts <c>kcp run --config</c>; its output goes to <c>kcp.log</c> beside the config too.</summary>
    public ChildProcess Run(string configFile)
    {
        var directory = Path.GetDirectoryName(configFile)!;
        return ChildProcess.Start("kcp run", executable, ["run", "--config", configFile], directory, Path.Combine(directory, "kcp.log"), environment);
    }

    // ConfigError's format: "routes/bench.yaml: key 'batch_size': unknown key" (optionally "; did you mean ...").
    [GeneratedRegex(@"key '(?<key>[^']+)'(?: = '[^']*')?: unknown key")]
    private static partial Regex UnknownKey();
}
