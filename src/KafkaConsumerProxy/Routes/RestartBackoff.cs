namespace KafkaConsumerProxy.Routes;

/// <summary>
/// How long a failed route waits before it is started again: 1 s after the first failure, doubling up to 60 s; a
/// route that ran for 5 minutes before it failed starts again from 1 s. Pure logic, driven by the caller's clock.
/// </summary>
internal sealed class RestartBackoff
{
    /// <summary>The first delay. The default value is 1 second.</summary>
    public static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay. The default value is 60 seconds.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(60);

    /// <summary>A run at least this long counts as healthy and resets the delay. The default value is 5 minutes.</summary>
    public static readonly TimeSpan HealthyAfter = TimeSpan.FromMinutes(5);

    private TimeSpan _next = Initial;

    /// <summary>Failures in a row without a healthy run between them.</summary>
    public int Failures { get; private set; }

    /// <summary>The delay before the next start, given how long the run that just failed lasted.</summary>
    public TimeSpan NextDelay(TimeSpan ranFor)
    {
        if (ranFor >= HealthyAfter)
        {
            Reset();
        }

        var delay = _next;
        _next = _next * 2 > Max ? Max : _next * 2;
        Failures++;
        return delay;
    }

    /// <summary>Forgets earlier failures (an operator start or restart).</summary>
    public void Reset()
    {
        _next = Initial;
        Failures = 0;
    }
}
