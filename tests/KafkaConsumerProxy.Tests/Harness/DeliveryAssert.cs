using System.Globalization;
using System.Text;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>What an endpoint accepted compared with what it should have: the offsets missing, repeated, or never produced.</summary>
public sealed record DeliveryComparison(
    IReadOnlyList<(int Partition, long Offset)> Missing,
    IReadOnlyDictionary<(int Partition, long Offset), int> Repeated,
    IReadOnlyList<(int Partition, long Offset)> Unexpected,
    int Expected,
    int Accepted)
{
    /// <summary>Extra deliveries: the sum over repeated offsets of (times accepted − 1).</summary>
    public int RepeatCount => Repeated.Values.Sum(n => n - 1);

    /// <summary>One line per kind of difference, offsets as per-partition ranges, e.g. <c>missing 3: partition 0: 5-7</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{Expected} expected, {Accepted} accepted");
        text.Append(CultureInfo.InvariantCulture, $"\nmissing {Missing.Count}: {DeliveryAssert.Ranges(Missing)}");
        text.Append(CultureInfo.InvariantCulture, $"\nrepeated {Repeated.Count} offset(s), {RepeatCount} extra deliveries: {DeliveryAssert.Ranges(Repeated.Keys)}");
        text.Append(CultureInfo.InvariantCulture, $"\nunexpected {Unexpected.Count}: {DeliveryAssert.Ranges(Unexpected)}");
        return text.ToString();
    }
}

/// <summary>
/// "Nothing lost" as an assertion that can fail: wait for the expected deliveries with a bound, then compare the sets and
/// fail naming the offsets missing or repeated — never a bare timeout.
/// </summary>
public static class DeliveryAssert
{
    /// <summary>Offsets 0..n-1 of each partition p with n = <paramref name="perPartition"/>[p].</summary>
    public static IReadOnlySet<(int Partition, long Offset)> Offsets(IReadOnlyDictionary<int, int> perPartition) =>
        perPartition.SelectMany(p => Enumerable.Range(0, p.Value).Select(o => (p.Key, (long)o))).ToHashSet();

    /// <summary>Offsets 0..<paramref name="perPartition"/>-1 of partitions 0..<paramref name="partitions"/>-1.</summary>
    public static IReadOnlySet<(int Partition, long Offset)> Offsets(int partitions, int perPartition) =>
        Offsets(Enumerable.Range(0, partitions).ToDictionary(p => p, _ => perPartition));

    /// <summary>
    /// Waits until every expected offset was accepted, at most <paramref name="timeout"/>; returns whether they all were.
    /// Never throws on timeout: the comparison that follows says what is missing.
    /// </summary>
    public static async Task<bool> WaitForAllAsync(RecordingReceiver receiver, IReadOnlySet<(int Partition, long Offset)> expected, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        // The recording only grows: look at each request once, so waiting for 20,000 messages stays linear.
        var seen = 0;
        var remaining = new HashSet<(int, long)>(expected);
        try
        {
            await receiver.WaitForAsync(
                requests =>
                {
                    for (; seen < requests.Count; seen++)
                    {
                        if (requests[seen] is { Fault.IsFailure: false, Partition: { } p, Offset: { } o })
                        {
                            remaining.Remove((p, o));
                        }
                    }

                    return remaining.Count == 0;
                },
                timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Waits, bounded, until every offset 0..n-1 of each partition in <paramref name="expected"/> was accepted, then fails
    /// naming the offsets still missing (and those repeated). Extra offsets do not fail it: tests that wait for part of
    /// what is produced use it too.
    /// </summary>
    public static Task AllArrivedAsync(RecordingReceiver receiver, IReadOnlyDictionary<int, int> expected, TimeSpan timeout) =>
        AllArrivedAsync(receiver, Offsets(expected), timeout);

    /// <inheritdoc cref="AllArrivedAsync(RecordingReceiver, IReadOnlyDictionary{int, int}, TimeSpan)"/>
    public static async Task AllArrivedAsync(RecordingReceiver receiver, IReadOnlySet<(int Partition, long Offset)> expected, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        if (!await WaitForAllAsync(receiver, expected, timeout))
        {
            var comparison = Compare(expected, receiver.Requests);
            Assert.Fail(string.Create(CultureInfo.InvariantCulture, $"not every expected message arrived within {timeout.TotalSeconds:0.#} s: {comparison}"));
        }
    }

    /// <summary>Compares the accepted (partition, offset) pairs of <paramref name="received"/> with <paramref name="expected"/>.</summary>
    public static DeliveryComparison Compare(IReadOnlySet<(int Partition, long Offset)> expected, IEnumerable<ReceivedRequest> received)
    {
        var accepted = received.Accepted().Select(r => (r.Partition ?? -1, r.Offset ?? -1)).ToList();
        var counts = accepted.GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());
        return new DeliveryComparison(
            expected.Where(e => !counts.ContainsKey(e)).Order().ToList(),
            counts.Where(c => c.Value > 1 && expected.Contains(c.Key)).ToDictionary(c => c.Key, c => c.Value),
            counts.Keys.Where(k => !expected.Contains(k)).Order().ToList(),
            expected.Count,
            accepted.Count);
    }

    /// <summary>Asserts every expected offset was accepted exactly once, and nothing else was.</summary>
    public static void AllOnce(IReadOnlySet<(int Partition, long Offset)> expected, IEnumerable<ReceivedRequest> received)
    {
        var comparison = Compare(expected, received);
        Assert.True(comparison.Missing.Count == 0 && comparison.Repeated.Count == 0 && comparison.Unexpected.Count == 0, "not every message delivered exactly once: " + comparison);
    }

    /// <summary>Asserts every expected offset was accepted at least once, and nothing else was; returns the comparison, to judge the repeats.</summary>
    public static DeliveryComparison NoneLost(IReadOnlySet<(int Partition, long Offset)> expected, IEnumerable<ReceivedRequest> received)
    {
        var comparison = Compare(expected, received);
        Assert.True(comparison.Missing.Count == 0 && comparison.Unexpected.Count == 0, "messages lost: " + comparison);
        return comparison;
    }

    /// <summary>Offsets as per-partition ranges, e.g. <c>partition 0: 5-7, 9; partition 2: 0</c>; at most 50 ranges shown.</summary>
    internal static string Ranges(IEnumerable<(int Partition, long Offset)> offsets)
    {
        const int Shown = 50;
        var ranges = new List<string>();
        var total = 0;
        foreach (var partition in offsets.GroupBy(o => o.Partition).OrderBy(g => g.Key))
        {
            var parts = new List<string>();
            long? from = null, to = null;
            foreach (var offset in partition.Select(o => o.Offset).Order())
            {
                if (to == offset - 1)
                {
                    to = offset;
                    continue;
                }

                if (from is not null)
                {
                    parts.Add(from == to ? $"{from}" : $"{from}-{to}");
                }

                from = to = offset;
            }

            parts.Add(from == to ? $"{from}" : $"{from}-{to}");
            total += parts.Count;
            ranges.Add(string.Create(CultureInfo.InvariantCulture, $"partition {partition.Key}: {string.Join(", ", parts.Take(Shown))}{(parts.Count > Shown ? ", …" : "")}"));
        }

        return ranges.Count == 0 ? "none" : string.Join("; ", ranges) + (total > Shown ? $" ({total} ranges)" : "");
    }
}
