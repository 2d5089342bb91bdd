namespace KafkaConsumerProxy.Telemetry;

/// <summary>One route's part of a shared budget (<c>Delivery/RequestBudget</c>), for the metrics <c>kcp.budget.*</c>.</summary>
internal sealed record BudgetShare(string Budget, string Route, int Held, int Waiting, double OldestWaitSeconds);
