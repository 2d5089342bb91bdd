using System.Globalization;
using System.Threading.RateLimiting;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// A budget of requests: at most <c>max_requests_per_second</c> started per second (a token bucket) and at most
/// <c>max_concurrency</c> in flight at once. A route's own <c>max_requests_per_second</c> is a budget of the route;
/// a <c>limits</c> entry of kcp.yaml is one budget shared by every route that names it with <c>limit</c>. Every
/// attempt (retries too) takes from it, in this process only.
/// </summary>
public sealed class RequestBudget : IDisposable
{
    private readonly TokenBucketRateLimiter? _rate;
    private readonly SemaphoreSlim? _concurrency;

    /// <param name="name">For messages: the route or the shared budget's name.</param>
    /// <param name="requestsPerSecond">Null: no rate limit.</param>
    /// <param name="maxConcurrency">Null: no limit of requests in flight.</param>
    public RequestBudget(string name, int? requestsPerSecond, int? maxConcurrency)
    {
        Name = name;
        if (requestsPerSecond is { } rate)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(rate, 1, nameof(requestsPerSecond));
            // Tokens come in steps of 1/100 s (one token per step below 100 per second), so the rate is exact over any
            // second; the bucket holds a tenth of a second's worth, so a burst after a quiet time stays small.
            var perStep = Math.Max(1, rate / 100);
            _rate = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(perStep, rate / 10),
                TokensPerPeriod = perStep,
                ReplenishmentPeriod = TimeSpan.FromTicks(TimeSpan.TicksPerSecond * perStep / rate),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            });
        }

        if (maxConcurrency is { } concurrency)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1, nameof(maxConcurrency));
            _concurrency = new SemaphoreSlim(concurrency, concurrency);
        }

        Description = string.Join(", ", new[]
        {
            requestsPerSecond is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r} requests/s") : null,
            maxConcurrency is { } c ? string.Create(CultureInfo.InvariantCulture, $"{c} in flight") : null,
        }.OfType<string>());
    }

    public string Name { get; }

    /// <summary>E.g. <c>50 requests/s, 8 in flight</c>.</summary>
    public string Description { get; }

    /// <summary>True when the budget limits requests in flight, so each <see cref="AcquireAsync"/> needs a <see cref="Release"/>.</summary>
    public bool LimitsConcurrency => _concurrency is not null;

    /// <summary>
    /// Waits for a token of the rate and then for an in-flight slot. Throws <see cref="OperationCanceledException"/>
    /// when <paramref name="cancel"/> fires first, holding nothing then.
    /// </summary>
    public async ValueTask AcquireAsync(CancellationToken cancel)
    {
        if (_rate is not null)
        {
            while (true)
            {
                using var lease = await _rate.AcquireAsync(1, cancel).ConfigureAwait(false);
                if (lease.IsAcquired)
                {
                    break;
                }
            }
        }

        if (_concurrency is not null)
        {
            await _concurrency.WaitAsync(cancel).ConfigureAwait(false);
        }
    }

    /// <summary>Gives back the in-flight slot of one <see cref="AcquireAsync"/>.</summary>
    public void Release() => _concurrency?.Release();

    public void Dispose()
    {
        _rate?.Dispose();
        _concurrency?.Dispose();
    }
}
