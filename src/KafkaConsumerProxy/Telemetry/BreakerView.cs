namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// A route's circuit breaker as the API, <c>kcp status</c>, the dashboard and <c>kcp_breaker_state</c> show it;
/// published by the breaker (<c>Delivery/CircuitBreaker</c>) at each transition.
/// </summary>
/// <param name="State"><c>closed</c>, <c>open</c> or <c>half-open</c>.</param>
/// <param name="Since">When it last opened or closed (when kcp built the route if it never moved).</param>
/// <param name="Probes">Probes sent since kcp built the route.</param>
internal sealed record BreakerView(string State, DateTimeOffset Since, long Probes)
{
    /// <summary>The state names in the order of their values in <c>kcp_breaker_state</c> (0, 1, 2).</summary>
    internal static readonly string[] StateNames = ["closed", "open", "half-open"];

    /// <summary>The value of <c>kcp_breaker_state</c>: 0 closed, 1 open, 2 half-open.</summary>
    public int Value => Array.IndexOf(StateNames, State);
}
