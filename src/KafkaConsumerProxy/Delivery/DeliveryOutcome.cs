namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// What one delivery attempt came to. Retry and skip decisions read this instead of catching exceptions,
/// so every way an attempt can fail is named here.
/// </summary>
public enum DeliveryOutcome
{
    /// <summary>The endpoint accepted the message.</summary>
    Success,

    /// <summary>The endpoint answered with a status the route does not accept (non-2xx).</summary>
    BadStatus,

    /// <summary>
    /// 2xx, but the body is not a JSON object (or not UTF-8), its <c>errno</c> is set, it is over 64 KiB, or the
    /// answer to a batch has a <c>retry</c> list or <c>actions</c> object that is malformed, names offsets not in the
    /// batch, or names one offset for two different actions; with <c>response_check: expression</c>, the expression
    /// did not accept the answer (false, an error, not a bool).
    /// </summary>
    RejectedBody,

    /// <summary>No connection within <c>conn_timeout_ms</c>.</summary>
    ConnectTimeout,

    /// <summary>
    /// No decision within <c>exec_timeout_ms</c>: with <c>response_check: errno</c> or <c>expression</c> the whole answer
    /// must arrive in time, with <c>response_check: status</c> only its status line.
    /// </summary>
    Timeout,

    /// <summary>The connection was refused, reset or closed before a full response arrived.</summary>
    ConnectionError,

    /// <summary>The endpoint accepted a batch but named this message in the answer's <c>retry</c> list (or as <c>retry</c> in its <c>actions</c>).</summary>
    RetryListed,

    /// <summary>
    /// <c>scheme: https</c>: the TLS connection failed; the reason says what (expired, name mismatch, unknown CA, client
    /// certificate required or refused, a file of the tls_* keys that cannot be read).
    /// </summary>
    TlsError,

    /// <summary>
    /// <c>auth.type: oauth2_client_credentials</c>: no token could be had from <c>token_url</c> (it failed, answered an
    /// error or no token), so the request was not sent; the reason says what the token endpoint did.
    /// </summary>
    AuthError,

    /// <summary>
    /// The answer's <c>Kcp-Action</c> header asked for <c>retry</c>, <c>skip</c>, <c>dead-letter</c> or <c>pause</c>
    /// (<see cref="DeliveryResult.Action"/>), whatever the status and the body; <c>commit</c> is a <see cref="Success"/>.
    /// </summary>
    EndpointAction,

    /// <summary>
    /// The route decodes typed records and this key or value cannot be decoded: not in the Confluent wire format, a schema
    /// id the registry does not know (404), or a payload that does not match its schema. Not sent; with
    /// <c>can_skip: true</c> skipped at once (kind <c>decode</c>), else retried like any failure.
    /// </summary>
    DecodeError,

    /// <summary>
    /// The schema registry could not be asked (unreachable, timed out, a 5xx or a refusal): not sent, and tried again after
    /// <c>retry_interval_ms</c>. Never counts toward <c>retry_nums</c> nor the circuit breaker: a registry outage skips nothing.
    /// </summary>
    RegistryUnavailable,
}

/// <summary>The result of one attempt: the outcome, a human-readable reason for failures, and timing.</summary>
internal sealed record DeliveryResult(DeliveryOutcome Outcome, string Host, TimeSpan Elapsed, int? StatusCode = null, string? Reason = null)
{
    public bool IsSuccess => Outcome == DeliveryOutcome.Success;

    /// <summary>The first 512 bytes of a failed attempt's response body, escaped for display; null when none was read.</summary>
    public string? BodyExcerpt { get; init; }

    /// <summary>
    /// What the answer's <c>Retry-After</c> asked for (seconds, or an HTTP date less now; a past date is zero; a number
    /// too large to read is <see cref="HttpDeliverer.MaxRetryAfter"/>), read on a 429 or 503 and on a
    /// <c>Kcp-Action</c> of <c>retry</c> or <c>pause</c> with any status; null when the answer had none, it could not be
    /// read, or it was not read.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>What the answer's <c>Kcp-Action</c> header asked for; <see cref="Delivery.EndpointAction.None"/> when it had none (or an unknown one).</summary>
    public EndpointAction Action { get; init; }

    /// <summary>A <c>Kcp-Action</c> value kcp does not know (or several that disagree), as received; null otherwise.</summary>
    public string? UnknownAction { get; init; }

    /// <summary>
    /// The first bytes (up to <see cref="DeadLetterWriter.MaxBodyBytes"/>) of a failed answer's body, kept only for a
    /// route with a dead-letter topic (<c>kcp.dlq.last_body</c>); null otherwise.
    /// </summary>
    public byte[]? BodyStart { get; init; }

    /// <summary>
    /// The longest reason put into a log line or skip record, after escaping (600 characters): room for a cut
    /// body preview (<see cref="Telemetry.LogText.DefaultMaxChars"/>) and what is said about it.
    /// </summary>
    public const int MaxReasonChars = 600;

    /// <summary>The outcome as the metric <c>kcp.delivery.attempts</c> labels it.</summary>
    internal string OutcomeLabel => Outcome switch
    {
        DeliveryOutcome.Success => "success",
        DeliveryOutcome.BadStatus => "bad_status",
        DeliveryOutcome.RejectedBody => "rejected_body",
        DeliveryOutcome.ConnectTimeout => "connect_timeout",
        DeliveryOutcome.Timeout => "timeout",
        DeliveryOutcome.ConnectionError => "connection_error",
        DeliveryOutcome.RetryListed => "retry_listed",
        DeliveryOutcome.DecodeError => "decode_error",
        DeliveryOutcome.RegistryUnavailable => "registry_unavailable",
        DeliveryOutcome.TlsError => "tls_error",
        DeliveryOutcome.AuthError => "auth_error",
        DeliveryOutcome.EndpointAction => Action switch
        {
            Delivery.EndpointAction.Retry => "endpoint_retry",
            Delivery.EndpointAction.Skip => "endpoint_skip",
            Delivery.EndpointAction.DeadLetter => "endpoint_dead_letter",
            _ => "endpoint_pause",
        },
        _ => Outcome.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// A one-line description for logs and skip records. The reason may carry endpoint text (a body, an exception
    /// message quoting a header), so it is escaped and cut here, whoever built it.
    /// </summary>
    public string Describe() => Outcome switch
    {
        DeliveryOutcome.Success => $"success from {Host}",
        DeliveryOutcome.BadStatus => $"HTTP {StatusCode} from {Host}",
        // The action names one of a fixed set of words: nothing of the endpoint's text.
        DeliveryOutcome.EndpointAction => $"Kcp-Action: {EndpointActions.Name(Action)} with HTTP {StatusCode} from {Host}",
        // The token request failed, not the endpoint: it was not called.
        DeliveryOutcome.AuthError => $"{OutcomeLabel}, not sent to {Host}: {Configuration.SecretRedactor.Hide(Telemetry.LogText.Escape(Configuration.SecretRedactor.Hide(Reason), MaxReasonChars))}",
        // Not sent: the reason names the record and the registry.
        DeliveryOutcome.DecodeError or DeliveryOutcome.RegistryUnavailable => $"{OutcomeLabel}, not sent to {Host}: {Configuration.SecretRedactor.Hide(Telemetry.LogText.Escape(Configuration.SecretRedactor.Hide(Reason), MaxReasonChars))}",
        _ => $"{OutcomeLabel} from {Host}: {Configuration.SecretRedactor.Hide(Telemetry.LogText.Escape(Configuration.SecretRedactor.Hide(Reason), MaxReasonChars))}",
    };
}
