namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The <c>fleet</c> section of <c>kcp.yaml</c>: the control topic through which every kcp running the same routes shares
/// the operator's intents (pause, stop, skip, retry), its status (heartbeats) and the audit trail. Without the section
/// each kcp is on its own, and the operator's state lives only in <c>{state_dir}/routes.json</c>.
/// </summary>
internal sealed record FleetSettings
{
    /// <summary>The default control topic: <c>_kcp_control</c>, one per cluster that routes use.</summary>
    public const string DefaultControlTopic = "_kcp_control";

    /// <summary>The default heartbeat interval: 3000 ms (an instance silent for three intervals is shown as gone).</summary>
    public const int DefaultHeartbeatMs = 3000;

    public const int MinHeartbeatMs = 100;
    public const int MaxHeartbeatMs = 60_000;

    /// <summary>No fleet: no control topic, each kcp on its own.</summary>
    public static FleetSettings Off { get; } = new() { Enabled = false };

    public bool Enabled { get; init; } = true;

    /// <summary>The compacted control topic, on each cluster that routes use. The default value is <c>_kcp_control</c>.</summary>
    public string ControlTopic { get; init; } = DefaultControlTopic;

    /// <summary>How often this instance publishes its status. The default value is 3000 ms.</summary>
    public int HeartbeatMs { get; init; } = DefaultHeartbeatMs;

    /// <summary>Silent this long, an instance is shown as gone: three heartbeats.</summary>
    public TimeSpan GoneAfter => TimeSpan.FromMilliseconds(3L * HeartbeatMs);

    public override string ToString() => Enabled ? $"control_topic {ControlTopic}, heartbeat_ms {HeartbeatMs}" : "off";
}
