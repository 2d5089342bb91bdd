using System.Globalization;
using System.Threading.RateLimiting;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// A budget of requests: at most <c>max_requests_per_second</c> started per second (a token bucket) and at most
/// <c>max_concurrency</c> in flight at once. A route's own <c>max_requests_per_second</c> is a budget of the route;
/// a <c>limits</c> entry of kcp.yaml is one budget shared by every route that names it with <c>limit</c>. Every
/// attempt (retries too) takes from it, in this process only.
/// </summary>
/// <remarks>
/// Slots are shared fairly: a request never overtakes one already waiting, and a slot given back goes to the waiting
/// route that holds the fewest slots (of two holding as many, the one waiting longest), so a busy route with many
/// requests queued cannot keep another route's request waiting behind all of them. A slot taken is not taken back:
/// requests that hang hold their slots until they end (<c>exec_timeout_ms</c>), and the routes waiting meanwhile are
/// shown waiting, with the routes that hold the slots (<see cref="WaitOf"/>, <see cref="Shares"/>).
/// </remarks>
internal sealed class RequestBudget : IDisposable
{
    private readonly TokenBucketRateLimiter? _rate;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();

    // Under _gate: each route's slots held, requests waiting for a slot, and the start of every wait (rate or slot).
    private readonly Dictionary<string, Share> _shares = new(StringComparer.Ordinal);
    private readonly int _slots;
    private int _free;
    private int _queued;

    /// <param name="name">For messages: the route or the shared budget's name.</param>
    /// <param name="requestsPerSecond">Null: no rate limit.</param>
    /// <param name="maxConcurrency">Null: no limit of requests in flight.</param>
    /// <param name="time">The clock of the waits shown; the system clock by default.</param>
    public RequestBudget(string name, int? requestsPerSecond, int? maxConcurrency, TimeProvider? time = null)
    {
        Name = name;
        // The system clock unless one is given: kcp passes its own everywhere; tests of other behaviour need no other.
        _time = time ?? TimeProvider.System;
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
            _slots = concurrency;
            _free = concurrency;
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

    /// <summary>
    /// Waits for a token of the rate and then for an in-flight slot, for a request of <paramref name="route"/>. Throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancel"/> fires first, holding nothing then.
    /// </summary>
    public async ValueTask AcquireAsync(string route, CancellationToken cancel)
    {
        Share share;
        LinkedListNode<DateTimeOffset> started;
        lock (_gate)
        {
            share = ShareOf(route);
            started = share.WaitStarts.AddLast(_time.GetUtcNow());
        }

        try
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

            if (_slots > 0)
            {
                await TakeSlotAsync(share, cancel).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_gate)
            {
                share.WaitStarts.Remove(started);
            }
        }
    }

    /// <summary>Gives back the in-flight slot of one <see cref="AcquireAsync"/> of <paramref name="route"/>.</summary>
    public void Release(string route)
    {
        if (_slots == 0)
        {
            return;
        }

        TaskCompletionSource? granted = null;
        lock (_gate)
        {
            ShareOf(route).Held--;
            if (NextWaiter() is { } next)
            {
                granted = next;
            }
            else
            {
                _free++;
            }
        }

        granted?.TrySetResult();
    }

    /// <summary>
    /// What <paramref name="route"/> waits for now: null unless one of its requests has waited at least
    /// <paramref name="atLeast"/> for this budget.
    /// </summary>
    public BudgetWait? WaitOf(string route, TimeSpan atLeast)
    {
        lock (_gate)
        {
            if (!_shares.TryGetValue(route, out var share) || share.WaitStarts.First is not { } oldest || _time.GetUtcNow() - oldest.Value < atLeast)
            {
                return null;
            }

            var holders = _shares.Where(s => s.Value.Held > 0).OrderByDescending(s => s.Value.Held).ThenBy(s => s.Key, StringComparer.Ordinal)
                .Select(s => new BudgetHolder(s.Key, s.Value.Held)).ToList();
            return new BudgetWait(Name, Description, share.WaitStarts.Count, oldest.Value, _slots > 0 && _free == 0 ? holders : []);
        }
    }

    /// <summary>Every route that has taken from this budget: slots held, requests waiting, the oldest wait's age.</summary>
    public IReadOnlyList<BudgetShare> Shares()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            return [.. _shares.Select(s => new BudgetShare(Name, s.Key, s.Value.Held, s.Value.WaitStarts.Count,
                s.Value.WaitStarts.First is { } oldest ? Math.Max(0, (now - oldest.Value).TotalSeconds) : 0))];
        }
    }

    public void Dispose() => _rate?.Dispose();

    private async ValueTask TakeSlotAsync(Share share, CancellationToken cancel)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        LinkedListNode<TaskCompletionSource> queued;
        lock (_gate)
        {
            // Never ahead of a request already waiting.
            if (_free > 0 && _queued == 0)
            {
                _free--;
                share.Held++;
                return;
            }

            queued = share.Queue.AddLast(waiter);
            _queued++;
        }

        using (cancel.Register(() =>
        {
            lock (_gate)
            {
                // Not yet granted: leave the queue. Once granted, the slot is the caller's (it gives it back).
                if (queued.List is null)
                {
                    return;
                }

                share.Queue.Remove(queued);
                _queued--;
            }

            waiter.TrySetCanceled(cancel);
        }))
        {
            await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>The waiter a free slot goes to (taken off its queue, its route's slot counted); null when none waits. Under <see cref="_gate"/>.</summary>
    private TaskCompletionSource? NextWaiter()
    {
        Share? best = null;
        foreach (var share in _shares.Values)
        {
            if (share.Queue.Count > 0 && (best is null || share.Held < best.Held || (share.Held == best.Held && share.WaitStarts.First!.Value < best.WaitStarts.First!.Value)))
            {
                best = share;
            }
        }

        if (best is null)
        {
            return null;
        }

        var next = best.Queue.First!;
        best.Queue.RemoveFirst();
        _queued--;
        best.Held++;
        return next.Value;
    }

    private Share ShareOf(string route)
    {
        if (!_shares.TryGetValue(route, out var share))
        {
            share = new Share();
            _shares[route] = share;
        }

        return share;
    }

    private sealed class Share
    {
        public int Held;
        public readonly LinkedList<TaskCompletionSource> Queue = new();
        public readonly LinkedList<DateTimeOffset> WaitStarts = new();
    }
}

/// <summary>A route's wait for a shared budget, as its status shows it.</summary>
/// <param name="Budget">The budget's name (under <c>limits</c>).</param>
/// <param name="Limit">The budget, e.g. <c>1 in flight</c>.</param>
/// <param name="Waiting">The route's requests waiting for it now.</param>
/// <param name="Since">When the oldest of them began to wait.</param>
/// <param name="HeldBy">When every slot is taken: the routes holding them (the waiting route itself may be one).</param>
internal sealed record BudgetWait(string Budget, string Limit, int Waiting, DateTimeOffset Since, IReadOnlyList<BudgetHolder> HeldBy)
{
    /// <summary>E.g. <c>waiting for budget shared (held by route a)</c>.</summary>
    public string Description => HeldBy.Count == 0
        ? $"waiting for budget {Budget} ({Limit})"
        : $"waiting for budget {Budget} (held by route {string.Join(", ", HeldBy.Select(h => h.Route))}; {Limit})";
}

/// <summary>A route holding slots of a budget.</summary>
internal sealed record BudgetHolder(string Route, int InFlight);
