using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// Deliveries and kcp's CPU by thread group over a scenario, sampled at each poll and printed per window
/// (<c>--timeline-ms</c>): where a whole run's figure departs from its second half's, and on which threads.
/// </summary>
internal sealed class Timeline(int pid, int windowMs)
{
    /// <summary>Thread-name prefixes (as /proc shows them, cut at 15 characters) and the column each counts in.</summary>
    private static readonly (string Prefix, string Group)[] Groups =
    [
        (".NET Tiered Com", "jit"),
        (".NET TP Worker", "pool"),
        (".NET Sockets", "sockets"),
        (".NET Long Runni", "consume"),
        ("rdk:", "librdkafka"),
    ];

    private static readonly string[] Columns = [.. Groups.Select(g => g.Group).Distinct(), "other"];

    private readonly List<(long Timestamp, long Messages, Dictionary<string, TimeSpan> Cpu)> _points = [];

    /// <summary>Samples kcp's threads now; <paramref name="messages"/> is the receiver's count.</summary>
    public void Add(long messages)
    {
        var cpu = Columns.ToDictionary(c => c, _ => TimeSpan.Zero);
        foreach (var (name, time) in ProcFs.ThreadsByName(pid))
        {
            var group = Groups.FirstOrDefault(g => name.StartsWith(g.Prefix, StringComparison.Ordinal)).Group ?? "other";
            cpu[group] += time;
        }

        _points.Add((Stopwatch.GetTimestamp(), messages, cpu));
    }

    /// <summary>One line per window from the first sample: seconds, msg/s, kcp's cores and µs per message, cores by thread group.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"from s",6}  {"msg/s",8}  {"cores",5}  {"µs/msg",6}  {string.Join("  ", Columns.Select(c => $"{c,10}"))}");
        if (_points.Count == 0)
        {
            return text.ToString();
        }

        var window = (long)(windowMs / 1000.0 * Stopwatch.Frequency);
        var first = _points[0];
        var from = first;
        foreach (var point in _points.Skip(1))
        {
            if (point.Timestamp - from.Timestamp < window && point != _points[^1])
            {
                continue;
            }

            var seconds = (point.Timestamp - from.Timestamp) / (double)Stopwatch.Frequency;
            var messages = point.Messages - from.Messages;
            var total = Columns.Sum(c => (point.Cpu[c] - from.Cpu[c]).TotalSeconds);
            var perMessage = messages > 0 ? $"{total * 1e6 / messages,6:F1}" : $"{"-",6}";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"  {(from.Timestamp - first.Timestamp) / (double)Stopwatch.Frequency,6:F2}  {messages / seconds,8:N0}  {total / seconds,5:F2}  {perMessage}  {string.Join("  ", Columns.Select(c => $"{(point.Cpu[c] - from.Cpu[c]).TotalSeconds / seconds,10:F2}"))}");
            from = point;
        }

        return text.ToString();
    }
}
