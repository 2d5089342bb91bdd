using System.Globalization;
using System.Text.RegularExpressions;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// The wrk ceiling: <c>wrk -t2 -c32</c> POSTing 100-byte form bodies (a small Lua script) to the receiver for a fixed
/// time, in the same run as the kcp scenarios. It tells what the receiver and the loopback can take on this machine
/// at this moment; kcp's figures are compared with it. Install with <c>bench/install.sh</c>.
/// </summary>
internal static partial class Wrk
{
    public const string Executable = "/usr/bin/wrk";

    public static string? Missing() => File.Exists(Executable) ? null : $"{Executable} not found (run bench/install.sh)";

    /// <summary>Runs wrk; returns its requests per second and total requests; throws when any request failed.</summary>
    public static async Task<(double RequestsPerSecond, long Requests, string Summary)> RunAsync(Uri url, int threads, int connections, int seconds, string work)
    {
        var script = Path.Combine(work, "wrk-post.lua");
        await File.WriteAllTextAsync(script, """
            wrk.method = "POST"
            wrk.body = string.rep("x", 100)
            wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
            """).ConfigureAwait(false);
        var (exitCode, output) = await ChildProcess.RunAsync("wrk", Executable,
            [
                "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
                "-d", seconds.ToString(CultureInfo.InvariantCulture) + "s", "-s", script, url.ToString(),
            ],
            TimeSpan.FromSeconds(seconds + 30)).ConfigureAwait(false);
        var rate = RequestsPerSecond().Match(output);
        var total = TotalRequests().Match(output);
        if (exitCode != 0 || !rate.Success || !total.Success)
        {
            throw new InvalidOperationException($"wrk exited with code {exitCode}:\n{output}");
        }

        if (Errors().Match(output) is { Success: true } errors)
        {
            throw new InvalidOperationException($"wrk saw failed requests ({errors.Value.Trim()}):\n{output}");
        }

        return (double.Parse(rate.Groups["v"].Value, CultureInfo.InvariantCulture), long.Parse(total.Groups["v"].Value, CultureInfo.InvariantCulture), output);
    }

    [GeneratedRegex(@"Requests/sec:\s+(?<v>[0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(?<v>[0-9]+) requests in")]
    private static partial Regex TotalRequests();

    [GeneratedRegex(@"(Non-2xx or 3xx responses: [0-9]+|Socket errors: .*)")]
    private static partial Regex Errors();
}
