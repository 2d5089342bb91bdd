using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using KafkaConsumerProxy.Tls;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Sends one attempt of one message (or of one batch) to a route's endpoint over pooled keep-alive connections and sorts the
/// result into a <see cref="DeliveryOutcome"/>; it never throws for an endpoint's misbehaviour.
/// One instance serves every member and partition of a route. The route's secrets are masked in every result at the
/// source (<see cref="Secrets"/>): its body excerpt, its reason and the body start kept for the dead-letter headers.
/// </summary>
internal sealed class HttpDeliverer : IDisposable
{
    /// <summary>
    /// A response body that is not read (<c>response_check: status</c>, a non-2xx answer, a body over
    /// <see cref="ResponseClassifier.MaxBodyBytes"/>) is drained in the background after the attempt has been decided,
    /// so its connection can be reused: at most this many bytes (256 KiB) ...
    /// </summary>
    public const int MaxDrainBytes = 256 * 1024;

    /// <summary>... within this time (2 s); a body that is longer or slower has its connection closed instead.</summary>
    public static readonly TimeSpan MaxDrainTime = TimeSpan.FromSeconds(2);

    private readonly RouteDefinition _route;
    // The handler chain is called directly: HttpClient's own layer (its state machine and a linked cancellation source
    // per request) adds nothing kcp uses (docs/PERFORMANCE-LAB.md, "Fix 13").
    private readonly HttpMessageInvoker _client;

    // Cancelled by CancelInFlight; every timeout source is linked to it.
    private readonly CancellationTokenSource _cancelAll = new();
    private readonly HostSelector _hosts;
    private readonly RequestBuilder _requests;
    private readonly TimeSpan _execTimeout;
    private readonly ConcurrentQueue<CancellationTokenSource> _timeouts = new();
    private readonly TimeProvider _time;
    private readonly RouteRedactor _secrets;
    private readonly TlsConnector? _tls;
    private readonly RepeatedLog<(string Topic, int Partition), (long Offset, string Problem)>? _invalidCloudEvents;
    private readonly ILogger? _logger;
    private int _notJsonAnswerLogged;

    /// <param name="route">The route whose endpoint is called.</param>
    /// <param name="time">The clock a <c>Retry-After</c> date is read against and attempts are timed on (not <c>exec_timeout_ms</c>, which bounds the real exchange on the system clock); default the system clock.</param>
    /// <param name="logger">
    /// With <c>format: cloudevents</c>, where a record that claims to be a CloudEvent but is not a valid one is reported:
    /// the first of a partition in full, then a count every 30 s (<see cref="RepeatedLog{TKey, TNote}"/>).
    /// With <c>response_check: errno</c>, also where the first 2xx answer with an empty or non-JSON body is reported,
    /// once for the route, with the hint <c>response_check: status</c>.
    /// </param>
    public HttpDeliverer(RouteDefinition route, TimeProvider? time = null, ILogger? logger = null)
    {
        _route = route;
        _logger = logger;
        // The system clock unless one is given: kcp passes its own everywhere; tests of other behaviour need no other.
        _time = time ?? TimeProvider.System;
        _secrets = new RouteRedactor(route.Endpoint);
        _hosts = new HostSelector(route.Endpoint.Targets());
        if (logger is not null && route.Delivery.Format == RequestFormat.CloudEvents)
        {
            _invalidCloudEvents = new RepeatedLog<(string Topic, int Partition), (long Offset, string Problem)>(_time, InvalidCloudEventInterval, (key, summary) =>
                Log.CloudEventInvalidAgain(logger, route.Name, key.Topic, key.Partition, summary.Count, summary.Since.TotalSeconds, summary.Latest.Offset, summary.Latest.Problem));
        }

        _requests = new RequestBuilder(route, _invalidCloudEvents is null ? null : (record, problem) => ReportInvalidCloudEvent(logger!, record, problem));
        _execTimeout = TimeSpan.FromMilliseconds(route.Endpoint.ExecTimeoutMs);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromMilliseconds(route.Endpoint.ConnTimeoutMs),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            // Re-resolve DNS now and then so a host name that moves is followed.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = int.MaxValue,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            // Disposing a response whose body was not read drains it in the background within these bounds, else
            // closes the connection; either way it never counts against the attempt.
            MaxResponseDrainSize = MaxDrainBytes,
            ResponseDrainTimeout = MaxDrainTime,
        };
        if (route.Endpoint.Tls.Enabled)
        {
            _tls = new TlsConnector(route.Endpoint);
            handler.ConnectCallback = _tls.ConnectAsync;
        }

        HttpMessageHandler outer = Auth.AuthHandler.Needed(route.Endpoint) ? new Auth.AuthHandler(route.Endpoint, _time, handler, _secrets) : handler;
        _client = new HttpMessageInvoker(outer, disposeHandler: true);
    }

    private static TimeSpan InvalidCloudEventInterval => RepeatedLog<(string, int), (long, string)>.DefaultInterval;

    /// <summary>The route's secrets, with the OAuth2 tokens fetched so far; shared with its dead-letter writer.</summary>
    public RouteRedactor Secrets => _secrets;

    /// <summary>The host selector, shared so a message's retries rotate over hosts.</summary>
    public HostSelector Hosts => _hosts;

    /// <summary>
    /// One attempt. Bounded by <c>exec_timeout_ms</c> only: a stop or revoke lets the attempt finish rather than
    /// cut it, because a cut request may still have been processed by the endpoint.
    /// </summary>
    public ValueTask<DeliveryResult> SendAsync(KafkaRecord record, int slot, int attempt) =>
        SendCoreAsync(_requests.Build(_hosts.Target(slot, attempt), record, attempt), _hosts.Authority(slot, attempt), record, 1);

    /// <summary>
    /// One attempt of a batch (one partition's records, <c>format: json</c>). On success, what the answer asked for
    /// single messages (its <c>retry</c> list and <c>actions</c>) is put into <paramref name="answer"/> (see
    /// <see cref="ResponseClassifier.ClassifyBatch"/>).
    /// </summary>
    public ValueTask<DeliveryResult> SendBatchAsync(IReadOnlyList<KafkaRecord> records, int slot, int attempt, BatchAnswer answer) =>
        SendCoreAsync(_requests.BuildBatch(_hosts.Target(slot, attempt), records, attempt), _hosts.Authority(slot, attempt), records[0], records.Count, records, answer);

    // The one place where a reason (which may quote the endpoint's body or an exception's message) enters a result; the
    // excerpt and the body start were masked as they were read, before being cut.
    private DeliveryResult Masked(DeliveryResult result) => result.Reason is null ? result : result with { Reason = _secrets.Hide(result.Reason) };

    /// <summary>
    /// Sends and decides. The body is read only when the decision needs it (<c>response_check: errno</c> and a 2xx
    /// status, or <c>response_check: expression</c>), and then at most <see cref="ResponseClassifier.MaxBodyBytes"/> + 1 bytes of it. Otherwise the attempt is
    /// decided on the status line: an endpoint that answers 200 and keeps the body open has the message delivered at
    /// once, and disposing the response drains or drops that connection in the background.
    /// </summary>
    /// <remarks>
    /// The attempt runs as an activity continuing the record's trace (Tracing/DeliveryTracing). Its state machine is
    /// pooled, as are those of the delivery loop that awaits it: one attempt per message would otherwise allocate each
    /// of them (docs/PERFORMANCE-LAB.md, "Fix 12").
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DeliveryResult> SendCoreAsync(HttpRequestMessage request, string host, KafkaRecord first, int count, IReadOnlyList<KafkaRecord>? batch = null, BatchAnswer? answer = null)
    {
        using var activity = Tracing.DeliveryTracing.Start(_route, first, count, request);
        var started = _time.GetTimestamp();
        var timeout = RentTimeout();
        DeliveryResult result;
        try
        {
            using (request)
            {
                // The handler returns once the headers are in; the body is read below only when the decision needs it.
                using var response = await _client.SendAsync(request, timeout.Token).ConfigureAwait(false);
                var action = EndpointActions.Read(response.Headers, out var unknown);
                var decided = action == EndpointAction.None
                    ? await DecideAsync(response, host, started, batch, answer, timeout.Token).ConfigureAwait(false)
                    : await ActedAsync(response, action, host, started, timeout.Token).ConfigureAwait(false);
                result = unknown is null ? decided : decided with { UnknownAction = unknown };
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_cancelAll.IsCancellationRequested)
        {
            var missing = _route.Endpoint.ResponseCheck == ResponseCheck.Status ? "no status line" : "no complete response";
            result = new DeliveryResult(DeliveryOutcome.Timeout, host, _time.GetElapsedTime(started), Reason: $"{missing} within exec_timeout_ms={_route.Endpoint.ExecTimeoutMs}");
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException or SocketException)
        {
            result = Classify(ex, host, _time.GetElapsedTime(started));
        }
        finally
        {
            ReturnTimeout(timeout);
        }

        result = Masked(result);
        Tracing.DeliveryTracing.Stop(activity, result);
        return result;
    }

    /// <summary>
    /// Decides an answer without a <c>Kcp-Action</c>. The body is read only when the decision needs it
    /// (<c>response_check: errno</c> and a 2xx status, or <c>response_check: expression</c>), and then at most <see cref="ResponseClassifier.MaxBodyBytes"/> + 1
    /// bytes of it.
    /// </summary>
    private async ValueTask<DeliveryResult> DecideAsync(HttpResponseMessage response, string host, long started, IReadOnlyList<KafkaRecord>? batch, BatchAnswer? answer, CancellationToken token)
    {
        var status = (int)response.StatusCode;
        var check = _route.Endpoint.ResponseCheck;
        if (check == ResponseCheck.Status || (check == ResponseCheck.Errno && status is < 200 or > 299))
        {
            var (decided, why) = ResponseClassifier.Classify(_route.Endpoint.ResponseCheck, status, []);
            var elapsedAtStatus = _time.GetElapsedTime(started);
            // The body is read once: for the dead-letter record when the route has one, else for the excerpt only.
            var bodyStart = decided != DeliveryOutcome.Success && _route.DeadLetter.Enabled ? await ReadStartAsync(response.Content, _secrets, token).ConfigureAwait(false) : null;
            return new DeliveryResult(decided, host, elapsedAtStatus, status, why)
            {
                BodyExcerpt = decided == DeliveryOutcome.Success ? null
                    : bodyStart is not null ? BodyExcerpt.Of(bodyStart, _secrets) : await BodyExcerpt.ReadAsync(response.Content, _secrets, token).ConfigureAwait(false),
                RetryAfter = Delivery.RetryPolicy.HonoursRetryAfter(status) ? RetryAfterOf(response) : null,
                BodyStart = bodyStart,
            };
        }

        var (body, length, tooLarge) = await ReadBodyAsync(response.Content, token).ConfigureAwait(false);
        try
        {
            var elapsed = _time.GetElapsedTime(started);
            // With response_check: expression the body is read on any status; a failure outside 2xx stays a bad status.
            var badStatus = status is < 200 or > 299;
            if (tooLarge)
            {
                var size = response.Content.Headers.ContentLength is { } declared ? $"{declared} bytes" : $"more than {ResponseClassifier.MaxBodyBytes} bytes";
                var start = length > 0 ? ": " + Telemetry.LogText.Escape(body.AsSpan(0, length)) : "";
                return new DeliveryResult(badStatus ? DeliveryOutcome.BadStatus : DeliveryOutcome.RejectedBody, host, elapsed, status,
                    $"body of {size} is over the {ResponseClassifier.MaxBodyBytes}-byte (64 KiB) limit{start}")
                {
                    RetryAfter = badStatus && Delivery.RetryPolicy.HonoursRetryAfter(status) ? RetryAfterOf(response) : null,
                };
            }

            var (outcome, reason) = check == ResponseCheck.Expression
                ? ExpressionCheck.Classify(_route.Endpoint.ResponseExpression!, status, ExpressionCheck.Headers(response), body.AsSpan(0, length))
                : batch is null || answer is null
                ? ResponseClassifier.Classify(check, status, body.AsSpan(0, length))
                : ResponseClassifier.ClassifyBatch(check, status, body.AsSpan(0, length), batch, answer);
            if (check == ResponseCheck.Errno && outcome == DeliveryOutcome.RejectedBody && _logger is not null && ResponseClassifier.IsNotJsonObject(body.AsSpan(0, length))
                && Interlocked.Exchange(ref _notJsonAnswerLogged, 1) == 0)
            {
                // Said once: the message goes on being retried as before, but the likely cause is named.
                Log.ErrnoAnswerNotJson(_logger, _route.Name, host, status, length == 0 ? "an empty body" : "a body that is not a JSON object");
            }

            return new DeliveryResult(outcome, host, elapsed, status, reason)
            {
                RetryAfter = outcome == DeliveryOutcome.BadStatus && Delivery.RetryPolicy.HonoursRetryAfter(status) ? RetryAfterOf(response) : null,
                BodyExcerpt = outcome == DeliveryOutcome.Success ? null : BodyExcerpt.Of(body.AsSpan(0, length), _secrets),
                // Also kept for a success whose actions dead-letter some messages: their records carry the answer too.
                BodyStart = (outcome != DeliveryOutcome.Success || answer is { AsksDeadLetter: true }) && _route.DeadLetter.Enabled
                    ? _secrets.HideBytes(body.AsSpan(0, Math.Min(length, DeadLetterWriter.MaxBodyBytes)), cut: length > DeadLetterWriter.MaxBodyBytes)
                    : null,
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>
    /// Decides an answer with a <c>Kcp-Action</c> (<see cref="EndpointAction"/>), on any status: <c>commit</c> is a success
    /// whose body is not read; the others are <see cref="DeliveryOutcome.EndpointAction"/>, with the body's start kept as
    /// for any failure, and the <c>Retry-After</c> of a <c>retry</c> or <c>pause</c> read whatever the status.
    /// </summary>
    private async ValueTask<DeliveryResult> ActedAsync(HttpResponseMessage response, EndpointAction action, string host, long started, CancellationToken token)
    {
        var status = (int)response.StatusCode;
        var elapsed = _time.GetElapsedTime(started);
        if (action == EndpointAction.Commit)
        {
            return new DeliveryResult(DeliveryOutcome.Success, host, elapsed, status) { Action = action };
        }

        var bodyStart = _route.DeadLetter.Enabled ? await ReadStartAsync(response.Content, _secrets, token).ConfigureAwait(false) : null;
        return new DeliveryResult(DeliveryOutcome.EndpointAction, host, elapsed, status, $"Kcp-Action: {EndpointActions.Name(action)}")
        {
            Action = action,
            BodyExcerpt = bodyStart is not null ? BodyExcerpt.Of(bodyStart, _secrets) : await BodyExcerpt.ReadAsync(response.Content, _secrets, token).ConfigureAwait(false),
            RetryAfter = action is EndpointAction.Retry or EndpointAction.Pause ? RetryAfterOf(response) : null,
            BodyStart = bodyStart,
        };
    }

    /// <summary>
    /// The wait a <c>Retry-After</c> header asks for: delay-seconds, or an HTTP date less now (zero when past); null when
    /// absent or not readable (a negative number, a word, a date that is not an HTTP date, several values). How long is
    /// honoured is decided by <see cref="RetryPolicy.Delay"/> and, for a pause, <see cref="EndpointActions.PauseFor"/>.
    /// </summary>
    private TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return IsHugeDelta(response.Headers) ? MaxRetryAfter : null;
    }

    /// <summary>
    /// The longest <c>Retry-After</c> read (2^31 − 1 seconds, about 68 years): the runtime reads delay-seconds only up
    /// to this, and a larger number is read as this, so an endpoint asking for a very long wait gets the longest one kcp
    /// honours (<c>retry_max_interval_ms</c>, or a pause's 24 hours) rather than none at all.
    /// </summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(int.MaxValue);

    // delay-seconds (RFC 9110: 1*DIGIT) too large for the runtime's parser, which then leaves the header unread.
    private static bool IsHugeDelta(System.Net.Http.Headers.HttpResponseHeaders headers)
    {
        if (!headers.NonValidated.TryGetValues("Retry-After", out var values) || values.Count != 1)
        {
            return false;
        }

        var value = values.ToString().AsSpan().Trim(" \t");
        return value.Length > 0 && !value.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>
    /// Up to <see cref="DeadLetterWriter.MaxBodyBytes"/> of a failed answer's body, for the dead-letter headers; what
    /// arrived before <paramref name="token"/> (<c>exec_timeout_ms</c>) fired or the connection failed, with the route's
    /// secrets masked. Never decides the attempt, which the status line already did.
    /// </summary>
    private static async Task<byte[]> ReadStartAsync(HttpContent content, RouteRedactor secrets, CancellationToken token)
    {
        // One byte more than is kept tells whether the body was cut, and so whether a secret may be cut at its end.
        var buffer = new byte[DeadLetterWriter.MaxBodyBytes + 1];
        var length = 0;
        try
        {
            var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                int read;
                while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), token).ConfigureAwait(false)) > 0)
                {
                    length += read;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException)
        {
            // What arrived is kept.
        }

        return secrets.HideBytes(buffer.AsSpan(0, Math.Min(length, DeadLetterWriter.MaxBodyBytes)), cut: length > DeadLetterWriter.MaxBodyBytes);
    }

    // A timeout source per attempt costs an allocation, a link to _cancelAll and a timer; reused ones only re-arm their
    // timer.
    private CancellationTokenSource RentTimeout()
    {
        // exec_timeout_ms runs on the system clock, as conn_timeout_ms (SocketsHttpHandler.ConnectTimeout, which takes no
        // TimeProvider) does: a request in flight on the real network is not cut by a test's fake clock. A linked
        // source's timer is the system's.
        if (!_timeouts.TryDequeue(out var timeout))
        {
            timeout = CancellationTokenSource.CreateLinkedTokenSource(_cancelAll.Token);
        }

#pragma warning disable RS0030 // On the system clock, as above.
        timeout.CancelAfter(_execTimeout);
#pragma warning restore RS0030
        return timeout;
    }

    // Called when the attempt's request and response are disposed, so nothing still listens to the token.
    private void ReturnTimeout(CancellationTokenSource timeout)
    {
        if (timeout.TryReset())
        {
            _timeouts.Enqueue(timeout);
        }
        else
        {
            timeout.Dispose();
        }
    }

    private DeliveryResult Classify(Exception ex, string host, TimeSpan elapsed)
    {
        for (var cause = ex; cause is not null; cause = cause.InnerException)
        {
            if (cause is TlsFailureException tls)
                return new DeliveryResult(DeliveryOutcome.TlsError, host, elapsed, Reason: tls.Message);
            if (cause is Auth.AuthFailureException auth)
                return new DeliveryResult(DeliveryOutcome.AuthError, host, elapsed, Reason: auth.Message);
        }

        // SocketsHttpHandler reports an expired ConnectTimeout as a cancellation caused by a TimeoutException.
        if (ex is OperationCanceledException || ex.InnerException is TimeoutException)
        {
            return new DeliveryResult(DeliveryOutcome.ConnectTimeout, host, elapsed, Reason: $"no connection within conn_timeout_ms={_route.Endpoint.ConnTimeoutMs}");
        }

        var message = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
        return new DeliveryResult(DeliveryOutcome.ConnectionError, host, elapsed, Reason: message);
    }

    // Reads the body into a pooled buffer, but never more than MaxBodyBytes + 1 bytes: one byte past the limit tells
    // "exactly 64 KiB" (accepted) from "over 64 KiB" (rejected). The rest is left to the response's disposal.
    private static async ValueTask<(byte[] Buffer, int Length, bool TooLarge)> ReadBodyAsync(HttpContent content, CancellationToken token)
    {
        const int Limit = ResponseClassifier.MaxBodyBytes + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(512);
        if (content.Headers.ContentLength is > ResponseClassifier.MaxBodyBytes)
        {
            return (buffer, 0, true);
        }

        var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var length = 0;
            while (length < Limit)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, Limit));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, Limit) - length), token).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length, false);
                }

                length += read;
            }

            return (buffer, length, true);
        }
    }

    private void ReportInvalidCloudEvent(ILogger logger, KafkaRecord record, string problem)
    {
        var note = (record.Offset, LogText.Escape(problem));
        if (_invalidCloudEvents!.ShouldLog((record.Topic, record.Partition), note))
        {
            Log.CloudEventInvalid(logger, _route.Name, record.Topic, record.Partition, record.Offset, note.Item2, InvalidCloudEventInterval.TotalSeconds);
        }
    }

    /// <summary>
    /// True once <see cref="CancelInFlight"/> ran: a failed attempt is then a cancelled one, not an answer of the
    /// endpoint, and its messages are abandoned (left uncommitted), never retried or skipped.
    /// </summary>
    public bool InFlightCancelled => _cancelAll.IsCancellationRequested;

    /// <summary>
    /// Cancels every request in flight, for a route that is being retired and may not wait for them any longer (a
    /// reload's bounded wait). The route sends nothing after this.
    /// </summary>
    public void CancelInFlight()
    {
        _cancelAll.Cancel();
    }

    public void Dispose()
    {
        _client.Dispose();
        _tls?.Dispose();
        _invalidCloudEvents?.Dispose();
        while (_timeouts.TryDequeue(out var timeout))
        {
            timeout.Dispose();
        }

        _cancelAll.Dispose();
    }
}
