using System.Diagnostics;
using System.Globalization;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// Waits for state that raises no event (a file, a committed offset, an API answer, a fake clock's timers) by
/// polling it in real time. Each wait is bounded by its timeout; the condition gets a last look at the deadline.
/// An exception thrown by the observation ends the wait at once (e.g. "kcp exited").
/// </summary>
public static class Eventually
{
    /// <summary>The pause between two observations unless a caller names its own (longer for costly ones).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="observe"/> until its value satisfies <paramref name="condition"/>; returns that value.</summary>
    /// <param name="observe">Reads the current value.</param>
    /// <param name="condition">Whether the value is the awaited one.</param>
    /// <param name="what">What is awaited, as the failure names it.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="show">How the failure shows the last value; <see cref="object.ToString"/> if none.</param>
    /// <param name="interval">The pause between observations; <see cref="DefaultInterval"/> if none.</param>
    /// <exception cref="TimeoutException">Not within <paramref name="timeout"/>; the message names <paramref name="what"/> and the last value.</exception>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> observe, Func<T, bool> condition, string what, TimeSpan timeout, Func<T, string>? show = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        ArgumentNullException.ThrowIfNull(condition);
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var value = await observe();
            if (condition(value))
            {
                return value;
            }

            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                var last = show is null ? value?.ToString() : show(value);
                throw new TimeoutException($"not within {timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s: {what}; last observed: {last}");
            }

            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <inheritdoc cref="ValueAsync{T}(Func{Task{T}}, Func{T, bool}, string, TimeSpan, Func{T, string}?, TimeSpan?)"/>
    public static Task<T> ValueAsync<T>(Func<T> observe, Func<T, bool> condition, string what, TimeSpan timeout, Func<T, string>? show = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        return ValueAsync(() => Task.FromResult(observe()), condition, what, timeout, show, interval);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds.</summary>
    /// <param name="condition">Whether the awaited state is reached.</param>
    /// <param name="what">What is awaited, as the failure names it.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="observed">What the failure shows as last observed (the state the condition looked at).</param>
    /// <param name="interval">The pause between observations; <see cref="DefaultInterval"/> if none.</param>
    /// <exception cref="TimeoutException">Not within <paramref name="timeout"/>; the message names <paramref name="what"/> and <paramref name="observed"/>.</exception>
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan timeout, Func<string> observed, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(observed);
        return ValueAsync(condition, held => held, what, timeout, _ => observed(), interval);
    }
}
