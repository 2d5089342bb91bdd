using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Consuming;

/// <summary>
/// Stops a route member's partition workers (a revocation, the operator's pause or seek, the member's stop) and runs the
/// steps of the member's stop, each logged on failure so that the next one still runs.
/// </summary>
/// <param name="bound">How long stopped workers are waited for: an attempt in flight may take exec_timeout_ms.</param>
internal sealed class WorkerStops(MemberParts parts, TimeSpan bound)
{
    /// <summary>Stops the sessions' workers and waits for them, bounded; never throws, so the caller's next steps always run.</summary>
    public void Stop(IReadOnlyCollection<PartitionSession> sessions)
    {
        var stopping = new List<Task>();
        foreach (var session in sessions)
        {
            Step($"stopping the worker of partition {session.Number}", () => stopping.Add(session.Worker.StopAsync()));
        }

        try
        {
            if (stopping.Count > 0 && !Task.WaitAll([.. stopping], bound))
            {
                Log.KafkaError(parts.Logger, parts.Route.Name, parts.Member, $"deliveries still in flight after {bound.TotalSeconds:F0} s; their messages stay uncommitted");
            }
        }
        catch (AggregateException ex)
        {
            Log.StopStepFailed(parts.Logger, parts.Route.Name, parts.Member, "waiting for the partition workers", ex.ToString());
        }
    }

    /// <summary>Runs one step of a stop; whatever it throws is logged and the next steps still run.</summary>
    public void Step(string step, Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // Whatever one step of the stop throws, the next steps still run; it is logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.StopStepFailed(parts.Logger, parts.Route.Name, parts.Member, step, ex.ToString());
        }
    }
}
