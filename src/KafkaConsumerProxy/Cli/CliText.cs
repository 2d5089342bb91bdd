using System.Globalization;
using System.Text.Json;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// How the CLI writes what the API answers, in the API's and the metrics' words: outcome names as the metric
/// <c>kcp.delivery.attempts</c> labels them (<c>bad_status</c>, <c>connection_error</c>), states in lower case, ages
/// relative to now ("failing for 2m 10s"), and "-" where there is no value (never a raw -1).
/// </summary>
internal static class CliText
{
    /// <summary>An age as days, hours, minutes and seconds, the two largest parts: <c>45s</c>, <c>2m 10s</c>, <c>3h 5m</c>, <c>2d 4h</c>.</summary>
    public static string Age(TimeSpan age)
    {
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }

        var parts = new (long Value, string Unit)[] { ((long)age.TotalDays, "d"), (age.Hours, "h"), (age.Minutes, "m"), (age.Seconds, "s") };
        var first = Array.FindIndex(parts, p => p.Value > 0);
        if (first < 0)
        {
            return "0s";
        }

        var shown = parts.Skip(first).Take(2).Where((p, i) => i == 0 || p.Value > 0);
        return string.Join(' ', shown.Select(p => p.Value.ToString(CultureInfo.InvariantCulture) + p.Unit));
    }

    /// <summary>How long ago <paramref name="since"/> was, as <see cref="Age"/> writes it.</summary>
    public static string AgeSince(DateTimeOffset since, DateTimeOffset now) => Age(now - since);

    /// <summary>An outcome as the metrics label it: <c>BadStatus</c> and <c>bad_status</c> both become <c>bad_status</c>.</summary>
    public static string Outcome(string outcome) => JsonNamingPolicy.SnakeCaseLower.ConvertName(outcome);

    /// <summary>
    /// A failure as "outcome: reason", or the reason alone when it starts with the outcome's word already, as most of
    /// kcp's reasons do ("rejected_body from 10.0.0.5:8080: ..."; "HTTP 502 from ..." is shown as "bad_status: HTTP 502 ...").
    /// </summary>
    public static string Failure(string outcome, string? reason)
    {
        var label = Outcome(outcome);
        reason ??= "";
        return reason.StartsWith(label + " ", StringComparison.Ordinal) || reason.StartsWith(label + ",", StringComparison.Ordinal) ? reason : $"{label}: {reason}";
    }

    /// <summary>An offset or count, or "-" for the API's -1 (none yet, unknown).</summary>
    public static string Number(long value) => value < 0 ? "-" : value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Rows as columns two spaces apart, each as wide as its widest cell; the last column not padded.</summary>
    public static string Table(IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = Enumerable.Range(0, all[0].Length).Select(c => all.Max(r => r[c].Length)).ToList();
        return string.Join('\n', all.Select(r => string.Join("  ", r.Select((cell, c) => c < r.Length - 1 ? cell.PadRight(widths[c]) : cell)).TrimEnd()));
    }
}
