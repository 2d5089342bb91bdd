using System.Collections.Concurrent;

namespace KafkaConsumerProxy.Consuming;

/// <summary>Where a seek moves partitions: an offset (of one partition, or of all), a time, or earliest/latest.</summary>
/// <param name="Force">True: a seek past unfinished messages records each of them as skipped (kind <c>seek</c>) instead of being refused.</param>
/// <param name="By">Who asked (in skip records and logs).</param>
internal sealed record SeekTarget(int? Partition, long? Offset, DateTimeOffset? Timestamp, string? Position, bool Force = false, string? By = null);

/// <summary>One partition moved by a seek.</summary>
/// <param name="From">Where the partition stood: its oldest unfinished offset, else the next offset it fetches.</param>
/// <param name="To">Where it goes on.</param>
/// <param name="Skipped">Unfinished offsets the seek passes (only with force): each gets a skip record of kind <c>seek</c>.</param>
/// <param name="Unread">Offsets between the fetch position and <paramref name="To"/> that were never fetched (a forward seek passes them).</param>
internal sealed record SeekMove(string Topic, int Partition, int Member, long From, long To, IReadOnlyList<long> Skipped, long Unread);

/// <summary>A seek that moved nothing: <see cref="Status"/> is the HTTP status of the answer (400, 404, 409, 503).</summary>
/// <param name="notOwnedHere">A partition was named that the topic has but no member of this process owns (404).</param>
internal sealed class SeekRefusedException(int status, string message, bool notOwnedHere = false) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>True when the partition named exists but is not owned by this process: another instance may own it.</summary>
    public bool NotOwnedHere { get; } = notOwnedHere;
}

/// <summary>
/// What one member would do for a seek, checked on its consumer thread: the moves, or why it refuses. The member then
/// waits for the decision of the whole seek, so that a seek moves every partition or none.
/// </summary>
/// <param name="Owned">The partitions of the route this member owns.</param>
/// <param name="TopicPartitions">The topic's partitions, when a partition was named that this member does not own; else null.</param>
/// <param name="Applied">The moves once made (empty when the seek was refused).</param>
internal sealed record SeekPlan(int Member, IReadOnlyList<int> Owned, IReadOnlyList<SeekMove> Moves, SeekRefusedException? Refusal, IReadOnlyList<int>? TopicPartitions, Task<IReadOnlyList<SeekMove>> Applied);

/// <summary>
/// The operator's seeks (<c>POST /api/v1/routes/{route}/seek</c>): every member of a route registers here while it
/// runs, and a seek asks all of them. Shared by the members of every route and the admin API; thread-safe.
/// </summary>
internal sealed class SeekRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Route, int Member), Func<SeekTarget, Task<bool>, Task<SeekPlan>>> _seekers = new();

    /// <summary>How long the members of a route have to check a seek; a member waits a little longer for the decision.</summary>
    internal static readonly TimeSpan PlanPatience = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Moves the partitions of <paramref name="route"/> that this process owns, all or none: every member first checks
    /// every target (inside the log, no unfinished message passed without force, the partition owned here); only when
    /// all of them agree does any partition move. Throws <see cref="SeekRefusedException"/> when nothing moved.
    /// </summary>
    public async Task<IReadOnlyList<SeekMove>> SeekAsync(string route, SeekTarget target)
    {
        var decision = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var asked = _seekers.Where(s => s.Key.Route == route).Select(s => s.Value(target, decision.Task)).ToList();
            SeekPlan[] plans;
            try
            {
                plans = await Task.WhenAll(asked).WaitAsync(PlanPatience, time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new SeekRefusedException(503, $"route {route}: not every member checked the seek within {PlanPatience.TotalSeconds:F0} s; nothing moved");
            }

            if (plans.Select(p => p.Refusal).OfType<SeekRefusedException>().ToList() is { Count: > 0 } refusals)
            {
                throw new SeekRefusedException(refusals.Max(r => r.Status), string.Join("; ", refusals.Select(r => r.Message)) + "; nothing moved");
            }

            var owned = plans.SelectMany(p => p.Owned).Order().ToList();
            if (target.Partition is { } only && !owned.Contains(only))
            {
                var exist = plans.Select(p => p.TopicPartitions).OfType<IReadOnlyList<int>>().FirstOrDefault();
                var mine = owned.Count == 0 ? "none" : string.Join(", ", owned);
                var missing = exist is not null && !exist.Contains(only);
                throw new SeekRefusedException(404, missing
                    ? $"route {route}: its topic has no partition {only}; its partitions: {string.Join(", ", exist!.Order())} (owned by this process: {mine}); nothing moved"
                    : $"route {route}: partition {only} is not owned by this process (it owns: {mine}); seek it where it is owned; nothing moved", notOwnedHere: !missing);
            }

            decision.TrySetResult(true);
            var moved = await Task.WhenAll(plans.Select(p => p.Applied)).ConfigureAwait(false);
            return [.. moved.SelectMany(m => m).OrderBy(m => m.Partition)];
        }
        finally
        {
            // Refused or failed: the members that checked are told to move nothing.
            decision.TrySetResult(false);
        }
    }

    internal void Register(string route, int member, Func<SeekTarget, Task<bool>, Task<SeekPlan>> seek) => _seekers[(route, member)] = seek;

    internal void Unregister(string route, int member) => _seekers.TryRemove((route, member), out _);
}
