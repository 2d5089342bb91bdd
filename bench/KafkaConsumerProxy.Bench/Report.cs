using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Bench;

/// <summary>How a scenario ended.</summary>
internal enum Outcome
{
    Measured,

    /// <summary>The build under test lacks a feature the scenario needs; no figure is made up for it.</summary>
    NotAvailable,

    /// <summary>The scenario broke (timeout, crash); its note says why.</summary>
    Failed,
}

/// <summary>
/// Average cores used over a measuring window (2.0 = both cores of this machine) by kcp, the receiver, the mock
/// cluster (the <c>rdk:mock</c> thread of this process), the rest of this process (polling, producing), and everything
/// else on the machine.
/// </summary>
internal sealed record CpuSplit(double Kcp, double Receiver, double Cluster, double Bench, double Other)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"kcp {Kcp:F2} / receiver {Receiver:F2} / mock cluster {Cluster:F2} / bench {Bench:F2} / other processes {Other:F2}");
}

/// <summary>One row of the report; a figure is null when the scenario does not measure it.</summary>
internal sealed class ScenarioResult(string name, string label)
{
    public string Name { get; } = name;

    public string Label { get; } = label;

    public Outcome Outcome { get; set; } = Outcome.Measured;

    public string? Note { get; set; }

    public double? MessagesPerSecond { get; set; }

    public double? RequestsPerSecond { get; set; }

    public double? CpuUsPerMessage { get; set; }

    /// <summary>Messages per second over the second half of the messages: start-up, group forming and JIT excluded.</summary>
    public double? SecondHalfMessagesPerSecond { get; set; }

    /// <summary>kcp CPU per message over the second half of the messages.</summary>
    public double? SecondHalfCpuUsPerMessage { get; set; }

    public double? PeakMemoryMb { get; set; }

    public double? MessagesPerRequest { get; set; }

    public long? Messages { get; set; }

    public double? Seconds { get; set; }

    public CpuSplit? Split { get; set; }

    public LatencyStats? Latency { get; set; }

    /// <summary>Seconds from <c>kcp run</c> to the first delivery (start-up scenarios).</summary>
    public double? FirstDeliverySeconds { get; set; }

    /// <summary>The receiver the scenario delivered to (<c>nginx</c>, <c>kestrel</c>), when it matters for the figure.</summary>
    public string? Receiver { get; set; }

    public static ScenarioResult NotAvailable(string name, string label, string reason) =>
        new(name, label) { Outcome = Outcome.NotAvailable, Note = "not available: " + reason };

    public static ScenarioResult Failed(string name, string label, string reason) =>
        new(name, label) { Outcome = Outcome.Failed, Note = "FAILED: " + reason };
}

/// <summary>Prints the results table, the ratios to the ceilings and the targets of issue 4.</summary>
internal static class Report
{
    public static void Print(TextWriter output, IReadOnlyList<ScenarioResult> results)
    {
        var consume = results.FirstOrDefault(r => r is { Name: "ceiling-consume", Outcome: Outcome.Measured })?.MessagesPerSecond;
        var http = results.FirstOrDefault(r => r is { Name: "ceiling-http", Outcome: Outcome.Measured })?.RequestsPerSecond;
        var wrk = results.FirstOrDefault(r => r is { Name: "ceiling-wrk", Outcome: Outcome.Measured })?.RequestsPerSecond;

        output.WriteLine();
        output.WriteLine("Results (msg/s from the receiver's first to last arrival; CPU = kcp utime+stime between the first and last delivery, per message;");
        output.WriteLine("2nd half = the same over the second half of the messages only; peak MB = VmHWM of the process; ratios = msg/s divided by each ceiling):");
        output.WriteLine();
        var rows = new List<string[]>
        {
            new[] { "scenario", "receiver", "msg/s", "CPU µs/msg", "2nd half: msg/s", "µs/msg", "peak MB", "msg/request", "vs wrk", "vs consume-only", "vs HttpClient", "p50 / p99 ms" },
        };
        foreach (var r in results)
        {
            if (r.Outcome != Outcome.Measured)
            {
                rows.Add([r.Label, FirstLine(r.Note), "", "", "", "", "", "", "", "", "", ""]);
                continue;
            }

            var rate = r.RequestsPerSecond ?? r.MessagesPerSecond;
            rows.Add(
            [
                r.Label,
                r.Receiver ?? "",
                rate is { } v ? N0(v) + (r.RequestsPerSecond is null ? "" : " req/s") : "",
                F(r.CpuUsPerMessage, "F1"),
                r.SecondHalfMessagesPerSecond is { } h ? N0(h) : "",
                F(r.SecondHalfCpuUsPerMessage, "F1"),
                F(r.PeakMemoryMb, "F0"),
                F(r.MessagesPerRequest, "F1"),
                Ratio(r, rate, wrk),
                Ratio(r, rate, consume),
                Ratio(r, rate, http),
                r.Latency is { } l ? string.Create(CultureInfo.InvariantCulture, $"{l.P50Ms:F2} / {l.P99Ms:F2}")
                    : r.FirstDeliverySeconds is { } f ? string.Create(CultureInfo.InvariantCulture, $"first delivery {f:F2} s") : "",
            ]);
        }

        WriteTable(output, rows);

        output.WriteLine();
        output.WriteLine("Notes:");
        foreach (var r in results.Where(r => r.Outcome == Outcome.Measured && (r.Note is not null || r.Split is not null)))
        {
            var parts = new List<string>();
            if (r.Messages is { } m && r.Seconds is { } s)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{m:N0} messages in {s:F2} s"));
            }

            if (r.Split is { } split)
            {
                parts.Add("cores used: " + split);
            }

            if (r.Note is { } note)
            {
                parts.Add(note);
            }

            output.WriteLine($"  {r.Label}: {string.Join("; ", parts)}");
        }

        foreach (var r in results.Where(r => r.Outcome == Outcome.Failed))
        {
            output.WriteLine($"  {r.Label}: {r.Note}");
        }

        WriteCostTable(output, results);

        output.WriteLine();
        output.WriteLine("Targets (issue 12; msg/s and ratios against the receiver named in the table):");
        WriteTable(output, [new[] { "target", "measured", "verdict" }, .. Targets(results, wrk, consume).Select(t => new[] { t.Target, t.Measured, t.Verdict })], leftAligned: true);
    }

    public static IEnumerable<(string Target, string Measured, string Verdict)> Targets(IReadOnlyList<ScenarioResult> results, double? wrkCeiling, double? consumeCeiling)
    {
        ScenarioResult? Find(string name) => results.FirstOrDefault(r => r.Name == name);

        (string, string, string) AtLeast(string target, ScenarioResult? r, Func<ScenarioResult, double?> figure, double bound, string format, string unit)
        {
            if (r is null)
            {
                return (target, "", "not run");
            }

            if (r.Outcome != Outcome.Measured || figure(r) is not { } value)
            {
                return (target, r.Outcome == Outcome.NotAvailable ? "not available" : "failed", "not measured");
            }

            return (target, value.ToString(format, CultureInfo.InvariantCulture) + unit, value >= bound ? "met" : "MISSED");
        }

        (string, string, string) AtMost(string target, ScenarioResult? r, Func<ScenarioResult, double?> figure, double bound, string format, string unit)
        {
            if (r is null)
            {
                return (target, "", "not run");
            }

            if (r.Outcome != Outcome.Measured || figure(r) is not { } value)
            {
                return (target, r.Outcome == Outcome.NotAvailable ? "not available" : "failed", "not measured");
            }

            return (target, value.ToString(format, CultureInfo.InvariantCulture) + unit, value <= bound ? "met" : "MISSED");
        }

        yield return AtLeast("sync (concurrency 4) >= 40,000 msg/s", Find("sync"), r => r.MessagesPerSecond, 40_000, "N0", " msg/s");
        yield return AtMost("<= 30 µs kcp CPU/msg, sync", Find("sync"), r => r.CpuUsPerMessage, 30, "F1", " µs");
        yield return AtLeast("async 64 >= 60,000 msg/s", Find("async"), r => r.MessagesPerSecond, 60_000, "N0", " msg/s");
        yield return wrkCeiling is { } wrk
            ? AtLeast("async 64 >= 0.6 x the wrk ceiling", Find("async"), r => r.MessagesPerSecond / wrk, 0.6, "F2", " x")
            : ("async 64 >= 0.6 x the wrk ceiling", "", "no wrk ceiling measured");
        yield return AtMost("<= 20 µs kcp CPU/msg, async 64", Find("async"), r => r.CpuUsPerMessage, 20, "F1", " µs");
        ScenarioResult? Loop(string name) => results.FirstOrDefault(r => r.Name == name && r.Outcome == Outcome.Measured);
        foreach (var (name, loop) in new[] { ("sync", "ceiling-http-8"), ("async", "ceiling-http") })
        {
            var target = $"<= 1.3 x the HttpClient loop's CPU, {name} (2nd half)";
            yield return Loop(loop)?.CpuUsPerMessage is { } client
                ? AtMost(target, Find(name), r => r.SecondHalfCpuUsPerMessage / client, 1.3, "F2", " x")
                : (target, "", "no HttpClient loop measured");
        }

        yield return Find("sync") is { Outcome: Outcome.Measured, MessagesPerSecond: { } syncRate }
            ? AtLeast("async 64 >= 1.5 x sync, both concurrency 4", Find("async"), r => r.MessagesPerSecond / syncRate, 1.5, "F2", " x")
            : ("async 64 >= 1.5 x sync, both concurrency 4", "", "no sync figure");
        yield return consumeCeiling is { } consume
            ? AtLeast("batch 100 >= 90% of the consume-only ceiling", Find("batch"), r => r.MessagesPerSecond / consume * 100, 90, "F0", " %")
            : ("batch 100 >= 90% of the consume-only ceiling", "", "no consume-only ceiling measured");
        yield return AtMost("p99 produce->arrival <= 5 ms at 1,000 msg/s", Find("latency"), r => r.Latency?.P99Ms, 5, "F2", " ms");
        foreach (var startup in results.Where(r => r.Name.StartsWith("startup", StringComparison.Ordinal)))
        {
            yield return AtMost($"first delivery <= 1 s after kcp run ({startup.Label})", startup, r => r.FirstDeliverySeconds, 1, "F2", " s");
        }

        foreach (var backlog in results.Where(r => r.Name.StartsWith("backlog", StringComparison.Ordinal)))
        {
            yield return AtMost($"<= 200 MB with a 1,000,000 backlog ({backlog.Label})", backlog, r => r.PeakMemoryMb, 200, "F0", " MB");
        }

        if (Find("large-async") is { } large)
        {
            yield return AtMost("<= 300 MB with 900 KB values, 50 ms endpoint, async 64", large, r => r.PeakMemoryMb, 300, "F0", " MB");
        }
    }

    /// <summary>
    /// kcp's CPU per unbatched message beside the CPU per request of the plain client loops of the same run, each with
    /// the in-flight limit closest to the scenario's (8 tasks for sync: one request per partition; 64 for async): the
    /// ratio is what kcp costs over a bare HttpClient, robust to other work sharing the machine because both sides are
    /// process CPU, not wall time. "2nd half" compares kcp without its start-up with the loops, which are measured after
    /// a warm-up too.
    /// </summary>
    private static void WriteCostTable(TextWriter output, IReadOnlyList<ScenarioResult> results)
    {
        double? Loop(string name) => results.FirstOrDefault(r => r.Name == name && r.Outcome == Outcome.Measured)?.CpuUsPerMessage;
        var rows = new List<string[]>
        {
            new[] { "scenario", "kcp µs/msg", "2nd half", "HttpClient loop µs/req", "kcp's request µs/req", "raw loop µs/req", "kcp / HttpClient", "2nd half / HttpClient", "2nd half / kcp's request", "kcp / raw", "2nd half − HttpClient µs" },
        };
        foreach (var (name, http, shaped, raw, tasks) in (ReadOnlySpan<(string, string, string, string, int)>)[("sync", "ceiling-http-8", "ceiling-kcpreq-8", "ceiling-raw-8", 8), ("async", "ceiling-http", "ceiling-kcpreq", "ceiling-raw", 64), ("async1", "ceiling-http", "ceiling-kcpreq", "ceiling-raw", 64)])
        {
            if (results.FirstOrDefault(r => r.Name == name && r.Outcome == Outcome.Measured) is not { CpuUsPerMessage: { } kcp } r)
            {
                continue;
            }

            var half = r.SecondHalfCpuUsPerMessage;
            var client = Loop(http);
            var bare = Loop(raw);
            var kcpShaped = Loop(shaped);
            rows.Add(
            [
                $"{r.Label} (loops: {tasks} tasks)",
                F(kcp, "F1"),
                F(half, "F1"),
                F(client, "F1"),
                F(kcpShaped, "F1"),
                F(bare, "F1"),
                client is > 0 ? F(kcp / client, "F2") : "",
                client is > 0 && half is { } h ? F(h / client, "F2") : "",
                kcpShaped is > 0 && half is { } hs ? F(hs / kcpShaped, "F2") : "",
                bare is > 0 ? F(kcp / bare, "F2") : "",
                client is { } c && half is { } h2 ? F(h2 - c, "F1") : "",
            ]);
        }

        if (rows.Count == 1)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine("kcp's CPU per message beside the client loops of the same run (process CPU of each; `--scenarios sync,async,loops`):");
        WriteTable(output, rows);
    }

    // Only the throughput scenarios are compared: the latency and backlog runs are paced or slowed on purpose, and
    // the ceilings are not compared with each other (one counts messages, the other requests).
    private static string Ratio(ScenarioResult r, double? rate, double? ceiling) =>
        r.Name is "sync" or "async" or "async1" or "batch" && rate is not null && ceiling is > 0
            ? (rate.Value / ceiling.Value * 100).ToString("F0", CultureInfo.InvariantCulture) + "%"
            : "";

    private static string FirstLine(string? text)
    {
        var line = (text ?? "").Split('\n')[0].Trim();
        return line.Length <= 110 ? line : string.Concat(line.AsSpan(0, 110), "…");
    }

    private static string N0(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string F(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "";

    private static void WriteTable(TextWriter output, IReadOnlyList<string[]> rows, bool leftAligned = false)
    {
        var columns = rows.Max(r => r.Length);
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Length && !IsSpanning(r) ? r[c].Length : 0)).ToArray();
        foreach (var row in rows)
        {
            var line = new StringBuilder("  ");
            for (var c = 0; c < row.Length; c++)
            {
                if (IsSpanning(row) && c > 1)
                {
                    break;
                }

                line.Append(c == 0 || leftAligned || IsSpanning(row) ? row[c].PadRight(widths[c]) : row[c].PadLeft(widths[c])).Append("  ");
            }

            output.WriteLine(line.ToString().TrimEnd());
        }
    }

    // A results row that was not measured carries only its label and a note that spans the figure columns.
    private static bool IsSpanning(string[] row) => row.Length > 3 && row.Skip(2).All(string.IsNullOrEmpty);
}
