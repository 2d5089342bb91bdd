using System.Collections.Concurrent;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>What a <see cref="Fault"/> does to the response, recorded with each request.</summary>
public enum FaultKind
{
    /// <summary>A normal answer: 200, <c>{"errno":0}</c> (possibly after a delay).</summary>
    None,

    /// <summary>200 with a JSON body whose errno is not 0.</summary>
    ErrnoBody,

    /// <summary>A non-2xx status such as 500 or 503.</summary>
    HttpStatus,

    /// <summary>The connection is dropped without a response.</summary>
    Abort,

    /// <summary>200 with a body that is not JSON.</summary>
    NonJsonBody,
}

/// <summary>
/// How <see cref="RecordingReceiver"/> answers one request. Immutable; combine a kind with a delay
/// through <see cref="After"/>, e.g. <c>Fault.Status(503).After(TimeSpan.FromSeconds(1))</c>.
/// </summary>
public sealed record Fault
{
    /// <summary>What the answer is.</summary>
    public FaultKind Kind { get; init; }

    /// <summary>HTTP status sent; 200 unless <see cref="Kind"/> is <see cref="FaultKind.HttpStatus"/>.</summary>
    public int StatusCode { get; init; } = 200;

    /// <summary>Response body, sent as UTF-8.</summary>
    public string Body { get; init; } = """{"errno":0}""";

    /// <summary>Response Content-Type.</summary>
    public string ContentType { get; init; } = "application/json";

    /// <summary>Extra response headers, e.g. <c>Retry-After</c>; none by default.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Wait before answering (or aborting); zero by default.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>
    /// When set, the answer also waits until this task completes (after <see cref="Delay"/>): a test holds a request
    /// for exactly as long as it needs, whatever the machine's speed. Not completed before the receiver stops, it is never answered.
    /// </summary>
    public Task? Release { get; init; }

    /// <summary>True when the answer is anything but a normal success; a delay alone is not a failure.</summary>
    public bool IsFailure => Kind != FaultKind.None;

    /// <summary>The normal answer: 200, <c>{"errno":0}</c>.</summary>
    public static Fault None { get; } = new();

    /// <summary>Drops the connection (<c>HttpContext.Abort()</c>) without answering.</summary>
    public static Fault Abort { get; } = new() { Kind = FaultKind.Abort, Body = "" };

    /// <summary>200 with <c>&lt;html&gt;oops&lt;/html&gt;</c> as text/html.</summary>
    public static Fault NonJson { get; } = new()
    {
        Kind = FaultKind.NonJsonBody,
        Body = "<html>oops</html>",
        ContentType = "text/html",
    };

    /// <summary>200 with <c>{"errno":errno,"errmsg":errmsg}</c>.</summary>
    public static Fault Errno(int errno = 1, string errmsg = "scripted failure") => new()
    {
        Kind = FaultKind.ErrnoBody,
        Body = System.Text.Json.JsonSerializer.Serialize(new { errno, errmsg }),
    };

    /// <summary>The given status (e.g. 500, 503) with a short text body.</summary>
    public static Fault Status(int statusCode) => new()
    {
        Kind = FaultKind.HttpStatus,
        StatusCode = statusCode,
        Body = $"scripted {statusCode}",
        ContentType = "text/plain",
    };

    /// <summary>
    /// A normal answer sent only after <paramref name="delay"/>. It counts as accepted from its arrival on, even when
    /// kcp gives up on it first (<c>exec_timeout_ms</c>): for an endpoint that does not answer in time use <see cref="Held"/>.
    /// </summary>
    public static Fault Delayed(TimeSpan delay) => None.After(delay);

    /// <summary>
    /// An endpoint that does not answer: the request is held for <paramref name="delay"/> (longer than kcp waits), then
    /// the connection is dropped. A failure, so a held request never counts as accepted.
    /// </summary>
    public static Fault Held(TimeSpan delay) => Abort.After(delay);

    /// <summary>A normal answer sent only once <paramref name="release"/> completes (see <see cref="Release"/>).</summary>
    public static Fault HeldUntil(Task release) => None with { Release = release };

    /// <summary>This answer, sent after <paramref name="delay"/>.</summary>
    public Fault After(TimeSpan delay) => this with { Delay = delay };

    /// <inheritdoc />
    public override string ToString() =>
        (Kind == FaultKind.HttpStatus ? $"HttpStatus({StatusCode})" : Kind.ToString())
        + (Delay > TimeSpan.Zero ? $"+{Delay.TotalMilliseconds:0}ms" : "")
        + (Release is null ? "" : "+held");
}

/// <summary>
/// Ready-made scripts for <see cref="RecordingReceiver.Script"/>. A script is called once per
/// request, possibly concurrently, and picks its <see cref="Fault"/>; write a lambda for anything else.
/// </summary>
public static class FaultScript
{
    /// <summary>Every request gets <paramref name="fault"/>.</summary>
    public static Func<ReceivedRequest, Fault> Always(Fault fault) => _ => fault;

    /// <summary>The first <paramref name="times"/> requests, whatever they carry, get <paramref name="fault"/>; the rest succeed.</summary>
    public static Func<ReceivedRequest, Fault> FailTimes(int times, Fault fault)
    {
        var seen = 0;
        return _ => Interlocked.Increment(ref seen) <= times ? fault : Fault.None;
    }

    /// <summary>
    /// Each message, told apart by (partition, offset), gets <paramref name="fault"/> on its first
    /// <paramref name="times"/> deliveries and succeeds after that.
    /// </summary>
    public static Func<ReceivedRequest, Fault> FailTimesPerMessage(int times, Fault fault)
    {
        var attempts = new ConcurrentDictionary<(int?, long?), int>();
        return r => attempts.AddOrUpdate((r.Partition, r.Offset), 1, (_, n) => n + 1) <= times ? fault : Fault.None;
    }

    /// <summary>Offset <paramref name="offset"/> of partition <paramref name="partition"/> gets <paramref name="fault"/> every time.</summary>
    public static Func<ReceivedRequest, Fault> ForMessage(int partition, long offset, Fault fault) =>
        When(r => r.Partition == partition && r.Offset == offset, fault);

    /// <summary>Requests matching <paramref name="predicate"/> get <paramref name="fault"/>, the others <paramref name="otherwise"/> (default: success).</summary>
    public static Func<ReceivedRequest, Fault> When(
        Func<ReceivedRequest, bool> predicate, Fault fault, Func<ReceivedRequest, Fault>? otherwise = null) =>
        r => predicate(r) ? fault : otherwise?.Invoke(r) ?? Fault.None;

    /// <summary>Each request fails with probability <paramref name="rate"/>, repeatably for a given <paramref name="seed"/>.</summary>
    public static Func<ReceivedRequest, Fault> Random(double rate, int seed, Fault fault)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rate, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rate, 1);
        // Seeded on purpose so a failing run can be replayed; not for security.
#pragma warning disable CA5394
        var random = new System.Random(seed);
        var gate = new Lock();
        return _ =>
        {
            lock (gate)
            {
                return random.NextDouble() < rate ? fault : Fault.None;
            }
        };
#pragma warning restore CA5394
    }
}
