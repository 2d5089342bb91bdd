using System.Runtime.CompilerServices;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Delivers a message or a batch to the end: attempts, waits between them (<see cref="RetryPolicy.Delay"/>:
/// <c>retry_backoff</c>, <c>Retry-After</c>, at least <see cref="RetryPolicy.MinRetryInterval"/>), reports slow and
/// blocked deliveries, and skips by policy (<c>retry_nums</c>, <c>skip_on_status</c>), on the operator's signal or
/// as the endpoint's <c>Kcp-Action</c> asks (<see cref="EndpointAction"/>; the skips themselves are <see cref="MessageSkipper"/>'s).
/// One instance per route, shared by its members: it holds the route's <c>Retry-After</c> gate, its rate budget,
/// the shared budget it names and its adaptive in-flight limit.
/// </summary>
/// <remarks>
/// <para>
/// A single message is a batch of one: one loop, one policy. The loop is written here rather than as a Polly retry
/// strategy because what happens between two attempts is the route's, not the attempt's: the in-flight slot is given
/// back and taken again (a message waiting to be retried must not keep others from being sent), a batch shrinks to
/// the messages its answer named for retry so the next request differs from the last, the operator's manual skip ends
/// a wait as a skip rather than as a cancellation, and a <c>Retry-After</c> holds back every request of the route,
/// not only the next attempt. With Polly each of those would be a callback reaching back into this class; the delays
/// themselves are the pure function <see cref="RetryPolicy.Delay"/>, tested with a fake clock.
/// </para>
/// <para>
/// Failed attempts are logged so that a message failing forever cannot flood the log: the first failure of each
/// message (or batch) is logged in full; later failures of a partition are counted and summarised at most every
/// 30 s per partition (<see cref="RepeatedLog{TKey, TNote}"/>): attempts since the last line, the latest offset,
/// attempt and reason. The blocked warnings (every 30 s per blocked message or batch) come on top.
/// </para>
/// </remarks>
internal sealed class MessageDeliverer
{
    private readonly RouteDefinition _route;
    private readonly HttpDeliverer _http;
    private readonly SkipLog _skipLog;
    private readonly ManualSkipSignal _manualSkip;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RepeatedLog<(string Topic, int Partition), FailureNote> _failureLog;
    private readonly EndpointGate _gate;
    private readonly RequestBudget? _rate;
    private readonly RequestBudget? _shared;
    private readonly AdaptiveConcurrencyLimit? _adaptive;
    private readonly MessageSkipper _skips;
    private int _unknownActionLogged;
    private readonly CircuitBreaker? _breaker;
    private readonly RecordDecoding? _decoding;
    private readonly RetryLane? _lane;
    private long _callers;

    /// <param name="shared">The budget of <c>limits</c> the route names with <c>limit</c>, shared with other routes; null: none.</param>
    /// <param name="deadLetter">Where skipped messages are written first (<c>dead_letter_topic</c>); null: none.</param>
    /// <param name="lane">The route's retry lane (<c>retry_topic</c>), where single failed messages go; null: none.</param>
    public MessageDeliverer(RouteDefinition route, HttpDeliverer http, SkipLog skipLog, ManualSkipSignal manualSkip, ProxyMetrics metrics, ILogger logger, TimeProvider time, RequestBudget? shared = null, DeadLetterWriter? deadLetter = null, RetryLane? lane = null)
    {
        _lane = lane;
        _skips = new MessageSkipper(route, skipLog, metrics, logger, time, deadLetter);
        _route = route;
        _http = http;
        _skipLog = skipLog;
        _manualSkip = manualSkip;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _gate = new EndpointGate(time);
        _shared = shared;
        if (route.Delivery.MaxRequestsPerSecond is { } rate)
        {
            _rate = new RequestBudget(route.Name, rate, maxConcurrency: null, time);
        }

        if (route.Delivery.AdaptiveConcurrency && route.Delivery.AsyncConcurrency > 0)
        {
            // The route's members share the endpoint, so they share one limit: up to async_concurrency each.
            var max = (int)Math.Min(int.MaxValue, (long)route.Delivery.AsyncConcurrency * Math.Max(1, route.Concurrency));
            var logged = 1;
            _adaptive = new AdaptiveConcurrencyLimit(max, (before, after) =>
            {
                _metrics.SetConcurrencyLimit(_route.Name, after);
                // Logged when it moved by a quarter or more since the last line, so oscillation around a level is quiet.
                var last = Volatile.Read(ref logged);
                if (Math.Abs(after - last) >= Math.Max(2, last / 4))
                {
                    Volatile.Write(ref logged, after);
                    Log.ConcurrencyLimitChanged(_logger, _route.Name, last, after, max);
                }
            });
            _metrics.SetConcurrencyLimit(route.Name, _adaptive.Current);
        }

        _breaker = CircuitBreaker.ForRoute(route, metrics, logger, time);
        _decoding = RecordDecoding.For(route);
        _failureLog = new RepeatedLog<(string Topic, int Partition), FailureNote>(time, RepeatedLog<(string, int), FailureNote>.DefaultInterval, (key, summary) =>
            Log.DeliveryFailuresRepeated(_logger, _route.Name, key.Topic, key.Partition, summary.Count, summary.Since.TotalSeconds, summary.Latest.Offset, summary.Latest.Attempt, summary.Latest.Reason));
    }

    /// <summary>The route whose messages this deliverer sends.</summary>
    public RouteDefinition Route => _route;

    /// <summary>The route's metrics, shared with the workers for the time from fetch to finished.</summary>
    internal ProxyMetrics Metrics => _metrics;

    /// <summary>The clock of retries, shared with the workers for batch linger.</summary>
    public TimeProvider Time => _time;

    /// <summary>The route's circuit breaker; null with <c>breaker_failures: 0</c>.</summary>
    internal CircuitBreaker? Breaker => _breaker;

    /// <summary>The route's <c>Retry-After</c> gate.</summary>
    public EndpointGate Gate => _gate;

    /// <summary>Where the messages being retried are shown with the operator's skip and retry handles; shared by every
    /// route of the process (the admin API reads it). A deliverer built without one keeps its own.</summary>
    internal FailingMessages Failing { get; init; } = new();

    /// <summary>
    /// Pauses the route for an answer with <c>Kcp-Action: pause</c>, given the host that asked and its
    /// <c>Retry-After</c> (null: until an operator resumes); set by whoever runs the routes. Null: the answer is only
    /// a retry of its message, after at least <see cref="EndpointPauseWait"/>.
    /// </summary>
    internal Action<string, TimeSpan?>? PauseRoute { get; init; }

    /// <summary>
    /// A message answered with <c>Kcp-Action: pause</c> is not sent again sooner than this (1 s), so that it is not
    /// sent again before the route's pause takes hold (which stops its worker and leaves it unfinished).
    /// </summary>
    public static readonly TimeSpan EndpointPauseWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Delivers <paramref name="record"/>. <paramref name="abandon"/> ends the wait between attempts (revoke or
    /// stop); an attempt already sent is allowed to finish, bounded by <c>exec_timeout_ms</c>.
    /// </summary>
    /// <param name="inFlight">
    /// With async delivery, the member's limit of requests in flight: the caller holds one of its slots for the first
    /// attempt. The slot is given back after every attempt and taken again before the next, so a message waiting to
    /// be retried does not keep other messages from being sent. Returns holding no slot.
    /// </param>
    /// <remarks>Awaited once, as every <see cref="ValueTask"/>: its state machine is pooled (docs/PERFORMANCE-LAB.md, "Fix 12").</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<MessageDisposition> DeliverAsync(KafkaRecord record, CancellationToken abandon, SemaphoreSlim? inFlight = null)
    {
        if (record.PassedBySeek is { } pass)
        {
            inFlight?.Release();
            return await _skips.SkipAsync(record, _skips.SeekDetails(pass), abandon, pass.By).ConfigureAwait(false);
        }

        LanePlace? place = _lane is null ? null : new LanePlace(0, 0);
        if (_lane is not null && record.Topic == _lane.Topic)
        {
            // A copy from the retry lane: held until due without a slot, then sent as the message first consumed.
            var copy = _lane.Read(record);
            if (!await _lane.HoldAsync(copy, inFlight, abandon).ConfigureAwait(false))
                return MessageDisposition.Abandoned;
            (record, place) = (copy.Record, new LanePlace(copy.Round, copy.Attempts));
        }

        // The same loop as a batch's, as a batch of one sent without the JSON array: no separate first attempt
        // (docs/PERFORMANCE-LAB.md, "Fix 2, undone").
        var outcome = new SingleOutcome();
        await DeliverCoreAsync([record], asBatch: false, outcome.Finished, abandon, inFlight, place).ConfigureAwait(false);
        return outcome.Disposition;
    }

    /// <summary>
    /// Delivers a batch (records of one partition, in the order given; the list is consumed) to the end, reporting each
    /// message to <paramref name="finished"/> as soon as it is delivered or skipped. Messages abandoned on revoke or
    /// stop are not reported. A failed request fails every message in it; a success whose answer lists offsets to
    /// retry fails only those. The messages still failing are sent again together after the retry wait, so
    /// all of them have had the same attempts: <c>retry_nums</c>, blocked reports and manual skips apply to them
    /// alike, while skip records and metrics stay per message.
    /// </summary>
    /// <param name="inFlight">As for <see cref="DeliverAsync"/>: the caller holds a slot for the first attempt.</param>
    public async Task DeliverBatchAsync(List<KafkaRecord> batch, Func<KafkaRecord, MessageDisposition, ValueTask> finished, CancellationToken abandon, SemaphoreSlim? inFlight = null)
    {
        if (batch.Exists(r => r.PassedBySeek is not null))
        {
            // Messages a forced seek passed are skipped one by one; the rest of the batch is delivered as usual.
            foreach (var record in batch.Where(r => r.PassedBySeek is not null).ToList())
            {
                var disposition = await _skips.SkipAsync(record, _skips.SeekDetails(record.PassedBySeek!), abandon, record.PassedBySeek!.By).ConfigureAwait(false);
                if (disposition == MessageDisposition.Abandoned)
                {
                    inFlight?.Release();
                    return;
                }

                await finished(record, disposition).ConfigureAwait(false);
            }

            batch.RemoveAll(r => r.PassedBySeek is not null);
            if (batch.Count == 0)
            {
                inFlight?.Release();
                return;
            }
        }

        await DeliverCoreAsync(batch, asBatch: true, finished, abandon, inFlight).ConfigureAwait(false);
    }

    /// <summary>
    /// The one delivery loop; <paramref name="asBatch"/> sends a JSON array even for one message. <paramref name="place"/>:
    /// the single message's place in the route's retry lane; null for a batch or a route without one.
    /// </summary>
    /// <remarks>Its state machine is pooled, as is <see cref="SendAsync"/>'s: both run once per message (docs/PERFORMANCE-LAB.md, "Fix 12").</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DeliverCoreAsync(List<KafkaRecord> batch, bool asBatch, Func<KafkaRecord, MessageDisposition, ValueTask> finished, CancellationToken abandon, SemaphoreSlim? inFlight, LanePlace? place = null)
    {
        var slot = _http.Hosts.NextSlot();
        var answer = asBatch ? new BatchAnswer() : null;
        var failures = new FailureHistory(_time, _manualSkip);
        var firstFailureAt = default(DateTimeOffset);
        FailingEntry? failing = null;

        // The attempts that count toward retry_nums: not those the circuit breaker discounts (see CircuitBreaker.Exit),
        // nor those answered with Kcp-Action: pause (not failures of the message).
        var counted = 0;
        var caller = place is null ? Interlocked.Increment(ref _callers) : RetryLane.CallerOf(batch[0]);

        // After a failure: what an operator's skip records if it comes while the open breaker holds the next attempt.
        SkipDetails? held = null;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                if (!await TakeSlotAsync(inFlight, attempt, abandon).ConfigureAwait(false))
                {
                    return;
                }

                if (asBatch && _decoding is not null && _route.Retry.CanSkip && (!await _decoding.SkipUndecodableAsync(batch, _skips, _time, finished, abandon).ConfigureAwait(false) || batch.Count == 0))
                {
                    inFlight?.Release();
                    return;
                }

                answer?.Clear();
                (DeliveryResult Result, bool Counts)? sent;
                _metrics.OnAttemptStarted(_route.Name);
                using var hold = held is null || _breaker is null ? null : CancellationTokenSource.CreateLinkedTokenSource(abandon, failures.ManualSkip, failing!.SkipToken);
                try
                {
                    sent = await SendAsync(batch[0], asBatch ? batch : null, answer, slot, attempt, caller, abandon, hold?.Token ?? abandon, place?.PriorAttempts ?? 0).ConfigureAwait(false);
                }
                finally
                {
                    inFlight?.Release();
                }

                if (sent is null && hold is { IsCancellationRequested: true } && !abandon.IsCancellationRequested)
                {
                    // An operator skipped the message while the open breaker held it back.
                    _metrics.OnAttemptNotSent(_route.Name);
                    await _skips.SkipAllAsync(batch, held! with { SkippedAt = _time.GetUtcNow() }, finished, abandon, failing!.SkippedBy).ConfigureAwait(false);
                    return;
                }

                if (sent is not var (result, counts))
                {
                    // Abandoned while waiting for the route's gate or budgets (nothing was sent), or cancelled in flight.
                    _metrics.OnAttemptNotSent(_route.Name);
                    return;
                }

                _metrics.OnAttempt(_route.Name, result.OutcomeLabel, result.Elapsed, attempt);
                if (result.UnknownAction is { } unknown && Interlocked.Exchange(ref _unknownActionLogged, 1) == 0)
                {
                    Log.EndpointActionUnknown(_logger, _route.Name, LogText.Escape(unknown), result.Host);
                }

                if (attempt == 1)
                {
                    firstFailureAt = _time.GetUtcNow();
                }

                if (result.Action is EndpointAction.Skip or EndpointAction.DeadLetter)
                {
                    await _skips.SkipAllAsync(batch, _skips.EndpointSkip(batch[0], result, attempt, firstFailureAt), finished, abandon).ConfigureAwait(false);
                    return;
                }

                string reason;
                if (result.IsSuccess)
                {
                    LogIfSlow(batch[0], result);

                    // A batch's answer may name single messages: retried, skipped or dead-lettered (its retry list, its actions).
                    var kept = 0;
                    for (var i = 0; i < batch.Count; i++)
                    {
                        var record = batch[i];
                        var asked = answer is null || answer.IsEmpty ? EndpointAction.None : answer.For(record.Offset);
                        if (asked == EndpointAction.Retry)
                        {
                            batch[kept++] = record;
                            continue;
                        }

                        if (asked is EndpointAction.Skip or EndpointAction.DeadLetter)
                        {
                            var skipped = await _skips.SkipAsync(record, _skips.EndpointSkip(record, result with { Action = asked }, attempt, firstFailureAt, inActions: true), abandon).ConfigureAwait(false);
                            if (skipped == MessageDisposition.Abandoned)
                            {
                                // This one and those after it stay unfinished for whoever takes the partition next.
                                return;
                            }

                            await finished(record, skipped).ConfigureAwait(false);
                            continue;
                        }

                        _metrics.OnDelivered(_route.Name, record.TimestampMs);
                        await finished(record, MessageDisposition.Delivered).ConfigureAwait(false);
                    }

                    batch.RemoveRange(kept, batch.Count - kept);
                    if (kept == 0)
                    {
                        return;
                    }

                    reason = (result with { Outcome = DeliveryOutcome.RetryListed, Reason = "named for retry in the answer (retry list or actions)" }).Describe();
                }
                else
                {
                    reason = result.Describe();
                }

                var head = batch[0];
                for (var i = 0; i < batch.Count; i++)
                {
                    _metrics.OnFailedAttempt(_route.Name);
                }

                if (counts && result.Action != EndpointAction.Pause)
                {
                    counted++;
                }

                // Shown, and skipped or retried by an operator, through its first message (a batch as a whole).
                if (failing is not null && failing.Record.Offset != head.Offset)
                {
                    Failing.Finished(failing);
                }

                failing = Failing.Failed(_route.Name, head, attempt, result, _time.GetUtcNow(), [.. batch.Select(r => r.Offset)]);

                // One line per batch, not per message: a failing batch of hundreds would otherwise flood the log.
                var described = batch.Count == 1 ? reason : $"{reason} (batch of {batch.Count}: offsets {RequestBuilder.DescribeOffsets(batch)})";
                LogFailure(head, attempt, described);
                if (failures.OnFailure(attempt, out var failingFor))
                {
                    Log.DeliveryBlocked(_logger, _route.Name, head.Topic, head.Partition, head.Offset, attempt, failingFor.TotalSeconds, described);
                }

                // With a Retry-After the route's gate was already moved (SendAsync); this message waits the same. The
                // Retry-After of a Kcp-Action retry or pause is this message's alone, on any status.
                var retryAfter = RetryPolicy.HonoursRetryAfter(result.StatusCode) || result.Action != EndpointAction.None ? result.RetryAfter : null;
                var delay = RetryPolicy.Delay(_route.Retry, attempt, retryAfter, Random.Shared.NextDouble());
                if (result.Action == EndpointAction.Pause)
                {
                    delay = delay > EndpointPauseWait ? delay : EndpointPauseWait;
                    Log.EndpointAskedToPause(_logger, _route.Name, result.Host, result.StatusCode ?? 0, head.Topic, head.Partition, head.Offset,
                        PauseRoute is null ? "this route cannot be paused from here: the message is tried again" : result.RetryAfter is { } until ? $"until an operator resumes it or for {EndpointActions.PauseFor(until).TotalSeconds:F0} s (Retry-After)" : "until an operator resumes it");
                    PauseRoute?.Invoke(result.Host, result.RetryAfter);
                }

                // An action the endpoint chose is not a status to skip on (skip_on_status); a pause never skips. While
                // rounds of the retry lane are left, retry_nums does not count yet: it counts from the last round on.
                var laneLeft = place is { } lanePlace && lanePlace.Round < _lane!.Rounds;
                var (decision, kind) = result.Action == EndpointAction.Pause ? (RetryDecision.Retry, SkipKind.Auto)
                    : RetryPolicy.AfterFailure(_route, laneLeft ? 0 : counted, result.IsSuccess || result.Action != EndpointAction.None ? null : result.StatusCode, result.Outcome);
                // A message from the retry lane counts the attempts of its earlier rounds too.
                SkipDetails Details(SkipKind skipKind) => new(skipKind, (place?.PriorAttempts ?? 0) + attempt, firstFailureAt, reason, result.StatusCode, result.BodyStart, _time.GetUtcNow());
                if (decision == RetryDecision.Skip || failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
                {
                    var skipKind = decision == RetryDecision.Skip ? kind : SkipKind.Manual;
                    await _skips.SkipAllAsync(batch, Details(skipKind), finished, abandon, skipKind == SkipKind.Manual ? failing.SkippedBy : null).ConfigureAwait(false);
                    return;
                }

                // A failure that counts (not one the open breaker discounts, nor a pause) moves the message to the lane's
                // next round; until the retry topic acknowledged its copy the message stays here and is retried in place.
                if (laneLeft && counts && result.Action != EndpointAction.Pause)
                {
                    if (await _lane!.MoveAsync(head, place!.Value, attempt, retryAfter is null ? null : delay, abandon).ConfigureAwait(false))
                    {
                        await finished(head, MessageDisposition.Requeued).ConfigureAwait(false);
                        return;
                    }

                    if (abandon.IsCancellationRequested)
                    {
                        return;
                    }
                }

                held = Details(SkipKind.Manual);
                failing.Waiting(_time.GetUtcNow() + delay);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(abandon, failures.ManualSkip, failing.SkipToken, failing.RetryToken);
                try
                {
                    await RetryPolicy.WaitAtLeastAsync(delay, _time, wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (failures.ManualSkip.IsCancellationRequested || failing.SkipToken.IsCancellationRequested)
                    {
                        await _skips.SkipAllAsync(batch, Details(SkipKind.Manual), finished, abandon, failing.SkippedBy).ConfigureAwait(false);
                        return;
                    }

                    if (abandon.IsCancellationRequested)
                    {
                        return;
                    }

                    // An operator asked for the next attempt now.
                }

                if (abandon.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        finally
        {
            failures.Release();
            Failing.Finished(failing);
        }
    }

    /// <summary>
    /// One attempt, once the route lets it start: after its circuit breaker, the <c>Retry-After</c> gate, a token of the
    /// route's rate, the shared budget and room under the adaptive limit, in that order. Null when abandoned while waiting
    /// for them, or when the route cancelled its requests in flight (<see cref="HttpDeliverer.CancelInFlight"/>); else the
    /// result and whether a failure counts toward <c>retry_nums</c> (<see cref="CircuitBreaker.Exit"/>).
    /// </summary>
    /// <param name="caller">The message or batch, the same for all its attempts (<see cref="CircuitBreaker.Exit"/>).</param>
    /// <param name="hold">Ends the wait for the circuit breaker: <paramref name="abandon"/>, or an operator's skip of a retried message.</param>
    /// <param name="batch">Null: <paramref name="single"/> alone, in the route's format; else a batch (a JSON array), of which <paramref name="single"/> is the first.</param>
    /// <param name="prior">Attempts of the message's earlier rounds in the retry lane: the request says attempt <c>prior + attempt</c>.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(DeliveryResult, bool)?> SendAsync(KafkaRecord single, List<KafkaRecord>? batch, BatchAnswer? answer, int slot, int attempt, long caller, CancellationToken abandon, CancellationToken hold, int prior = 0)
    {
        if (_decoding is not null)
        {
            // Decoded before the breaker is asked: a record that cannot be decoded, or a registry that cannot be asked,
            // says nothing of the endpoint. Only an undecodable record counts toward retry_nums.
            var (decoded, failure) = await _decoding.DecodeAllAsync(batch ?? [single]).ConfigureAwait(false);
            if (decoded is null)
            {
                // Without a copy to send there is always the failure that stands for it.
                return (failure!, failure!.Outcome == DeliveryOutcome.DecodeError);
            }

            (single, batch) = (decoded[0], batch is null ? null : decoded);
        }
        var sharedHeld = false;
        long ticket = 0;
        BreakerPass? pass = null;
        try
        {
            if (_breaker is not null)
            {
                pass = await _breaker.EnterAsync(hold).ConfigureAwait(false);
            }

            await _gate.WaitAsync(abandon).ConfigureAwait(false);
            if (_rate is not null)
            {
                await _rate.AcquireAsync(_route.Name, abandon).ConfigureAwait(false);
            }

            if (_shared is not null)
            {
                await _shared.AcquireAsync(_route.Name, abandon).ConfigureAwait(false);
                sharedHeld = true;
            }

            if (_adaptive is not null)
            {
                ticket = await _adaptive.AcquireAsync(abandon).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested || hold.IsCancellationRequested)
        {
            if (sharedHeld)
            {
                _shared!.Release(_route.Name);
            }

            if (pass is { } entered)
            {
                _breaker!.Exit(entered, null, caller);
            }

            return null;
        }

        DeliveryResult? result = null;
        try
        {
            result = batch is null
                ? await _http.SendAsync(single, slot, prior + attempt).ConfigureAwait(false)
                : await _http.SendBatchAsync(batch, slot, attempt, answer!).ConfigureAwait(false);
            var cancelled = !result.IsSuccess && _http.InFlightCancelled;

            // The breaker learns of the answer before the adaptive limit and the shared budget are given back.
            var counts = pass is not { } entered || _breaker!.Exit(entered, cancelled ? null : result, caller);
            pass = null;
            if (cancelled)
            {
                // The route is being retired and cancelled its requests: not the endpoint's answer, so the messages
                // are abandoned (left uncommitted for the next owner), never retried or skipped.
                return null;
            }

            if (RetryPolicy.HonoursRetryAfter(result.StatusCode) && result.RetryAfter is { } asked)
            {
                // The endpoint asked the route to wait, whatever becomes of this message: the gate moves before any
                // slot or budget of this request is given back, so no other request slips in meanwhile.
                DeferRoute(RetryPolicy.Delay(_route.Retry, attempt, asked, 0), result);
            }

            return (result, counts);
        }
        finally
        {
            if (pass is { } unanswered)
            {
                // The send threw (a bug, not an outcome): the breaker learnt nothing.
                _breaker!.Exit(unanswered, null, caller);
            }

            // A send that threw (a bug, not an outcome) says nothing about load.
            _adaptive?.Release(ticket, result ?? new DeliveryResult(DeliveryOutcome.ConnectionError, "", TimeSpan.Zero));
            if (sharedHeld)
            {
                _shared!.Release(_route.Name);
            }
        }
    }

    private void DeferRoute(TimeSpan delay, DeliveryResult result)
    {
        var quiet = _gate.NotBefore <= _time.GetUtcNow();
        _gate.Defer(delay);
        if (quiet)
        {
            // Once per episode of Retry-After answers, not per answer.
            Log.EndpointAskedToWait(_logger, _route.Name, result.StatusCode ?? 0, result.Host, delay.TotalMilliseconds);
        }
    }

    // The first failure of a message or batch is logged; later ones are summarised per partition (see the remarks).
    private void LogFailure(KafkaRecord head, int attempt, string reason)
    {
        if (_failureLog.ShouldLog((head.Topic, head.Partition), new FailureNote(head.Offset, attempt, reason), always: attempt == 1))
        {
            Log.DeliveryFailed(_logger, _route.Name, head.Topic, head.Partition, head.Offset, attempt, reason);
        }
    }

    private void LogIfSlow(KafkaRecord first, DeliveryResult result)
    {
        if (_route.Endpoint.SlowTimeMs is { } slow && result.Elapsed.TotalMilliseconds > slow)
        {
            Log.DeliverySlow(_logger, _route.Name, first.Topic, first.Partition, first.Offset, (long)result.Elapsed.TotalMilliseconds, slow, result.Host);
        }
    }

    /// <summary>Before a retry, waits for a slot of the in-flight limit; false when abandoned meanwhile. The first attempt's slot is the caller's.</summary>
    private static async ValueTask<bool> TakeSlotAsync(SemaphoreSlim? inFlight, int attempt, CancellationToken abandon)
    {
        if (inFlight is null || attempt == 1)
        {
            return true;
        }

        try
        {
            await inFlight.WaitAsync(abandon).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>The latest failed attempt of a partition, for its summary line.</summary>
internal readonly record struct FailureNote(long Offset, int Attempt, string Reason);
