namespace KafkaConsumerProxy.Bench.Receiver;

/// <summary>
/// Counts delivered messages and keeps, per message, its arrival time and its produce timestamp, without locks:
/// each request reserves slots with one <see cref="Interlocked.Add(ref long, long)"/>. Times are Unix milliseconds
/// as doubles, so arrivals keep sub-millisecond precision; a produce timestamp unknown to the request is NaN.
/// </summary>
/// <remarks>
/// <see cref="Reset"/> is meant for quiet moments between runs: a request that races with it may be counted in
/// either run. Messages past <see cref="Capacity"/> are counted but not recorded.
/// </remarks>
internal sealed class ArrivalLog(int capacity)
{
    private readonly double[] _arrivalMs = new double[capacity];
    private readonly double[] _producedMs = new double[capacity];
    private long _messages;
    private long _requests;
    private long _firstTicks;
    private long _lastTicks;
    private int _inFlight;
    private int _maxInFlight;

    public int Capacity => capacity;

    /// <summary>Records one request carrying <paramref name="producedMs"/>.Length messages that arrived at <paramref name="arrivalTicks"/>.</summary>
    public void Record(long arrivalTicks, ReadOnlySpan<double> producedMs)
    {
        Interlocked.Increment(ref _requests);
        var end = Interlocked.Add(ref _messages, producedMs.Length);
        var start = end - producedMs.Length;
        Interlocked.CompareExchange(ref _firstTicks, arrivalTicks, 0);
        UpdateLast(arrivalTicks);

        var arrival = ToUnixMs(arrivalTicks);
        for (var i = 0; i < producedMs.Length && start + i < capacity; i++)
        {
            var slot = (int)(start + i);
            _arrivalMs[slot] = arrival;
            _producedMs[slot] = producedMs[i];
        }
    }

    /// <summary>A request has arrived and is not yet answered; tracks the most requests open at once.</summary>
    public void RequestStarted()
    {
        var open = Interlocked.Increment(ref _inFlight);
        var seen = Volatile.Read(ref _maxInFlight);
        while (open > seen)
        {
            var previous = Interlocked.CompareExchange(ref _maxInFlight, open, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>A request has been answered.</summary>
    public void RequestEnded() => Interlocked.Decrement(ref _inFlight);

    public void Reset()
    {
        Interlocked.Exchange(ref _maxInFlight, Volatile.Read(ref _inFlight));
        Interlocked.Exchange(ref _messages, 0);
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _firstTicks, 0);
        Interlocked.Exchange(ref _lastTicks, 0);
    }

    public ReceiverStats Stats()
    {
        var first = Interlocked.Read(ref _firstTicks);
        var last = Interlocked.Read(ref _lastTicks);
        return new ReceiverStats(
            Interlocked.Read(ref _messages),
            Interlocked.Read(ref _requests),
            first == 0 ? 0 : ToUnixMs(first),
            last == 0 ? 0 : ToUnixMs(last),
            Volatile.Read(ref _maxInFlight));
    }

    /// <summary>Percentiles of arrival minus produce time over the recorded messages that carried a timestamp.</summary>
    public LatencyStats Latency()
    {
        var recorded = (int)Math.Min(Interlocked.Read(ref _messages), capacity);
        var latencies = new List<double>(recorded);
        for (var i = 0; i < recorded; i++)
        {
            if (!double.IsNaN(_producedMs[i]))
            {
                latencies.Add(_arrivalMs[i] - _producedMs[i]);
            }
        }

        if (latencies.Count == 0)
        {
            return new LatencyStats(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        latencies.Sort();
        return new LatencyStats(
            latencies.Count,
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            Percentile(latencies, 0.999),
            latencies[^1],
            latencies.Average());
    }

    // Nearest-rank percentile: the smallest sample with at least p of the samples at or below it.
    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private void UpdateLast(long ticks)
    {
        var seen = Interlocked.Read(ref _lastTicks);
        while (ticks > seen)
        {
            var previous = Interlocked.CompareExchange(ref _lastTicks, ticks, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    private static double ToUnixMs(long utcTicks) =>
        (utcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond;
}

/// <summary>
/// What <c>GET /stats</c> returns; arrival times are Unix milliseconds, 0 before the first message;
/// <paramref name="MaxInFlight"/> is the most requests that were open at once.
/// </summary>
internal sealed record ReceiverStats(long Messages, long Requests, double FirstArrivalUnixMs, double LastArrivalUnixMs, int MaxInFlight);

/// <summary>What <c>GET /latency</c> returns: produce-to-arrival milliseconds over <paramref name="Samples"/> messages.</summary>
internal sealed record LatencyStats(int Samples, double P50Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);
