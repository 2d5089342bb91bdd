namespace KafkaConsumerProxy.Bench;

/// <summary>
/// An HTTP endpoint kcp delivers to, as the orchestrator sees it: its process (for CPU), its address, and its
/// arrival counters. The Kestrel receiver (<see cref="ReceiverClient"/>) also times latency and has slow endpoints;
/// nginx (<see cref="NginxReceiver"/>) costs almost nothing per request.
/// </summary>
internal interface IReceiver
{
    /// <summary>Short name for the report: <c>kestrel</c> or <c>nginx</c>.</summary>
    string Kind { get; }

    ChildProcess Process { get; }

    Uri BaseAddress { get; }

    Task<ReceiverStats> StatsAsync();

    /// <summary>Forgets every arrival so far: the counters start again from zero.</summary>
    Task ResetAsync();
}
