using System.Net.Http.Headers;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// What the endpoint asked for with the <c>Kcp-Action</c> response header (docs/ENDPOINT-CONTRACT.md). The header
/// decides on any final status, before the status and the body are looked at.
/// </summary>
public enum EndpointAction
{
    /// <summary>No <c>Kcp-Action</c> (or one kcp does not know, which is logged and ignored): the status and body decide.</summary>
    None,

    /// <summary><c>retry</c>: not done; tried again after <c>Retry-After</c> when given (any status), within the route's retry interval bounds; even on a 2xx.</summary>
    Retry,

    /// <summary><c>skip</c>: skipped now, without the dead-letter topic and whatever <c>can_skip</c> says (skip kind <c>endpoint</c>).</summary>
    Skip,

    /// <summary><c>dead-letter</c>: written to the route's dead-letter topic now, then skipped; a route without one skips it and says so.</summary>
    DeadLetter,

    /// <summary><c>pause</c>: the route is paused until an operator resumes it, or until <c>Retry-After</c> when given; the message is not done.</summary>
    Pause,

    /// <summary><c>commit</c>: delivered, whatever the status and the body.</summary>
    Commit,
}

/// <summary>Reads the <c>Kcp-Action</c> header of an answer.</summary>
internal static class EndpointActions
{
    /// <summary>The response header.</summary>
    public const string HeaderName = "Kcp-Action";

    /// <summary>The longest header value that is read (64 characters); a longer one is unknown.</summary>
    private const int MaxValueChars = 64;

    /// <summary>The values as written in the header, in the order of <see cref="EndpointAction"/> after None.</summary>
    public static readonly string[] Names = ["retry", "skip", "dead-letter", "pause", "commit"];

    /// <summary>
    /// The action an answer's headers ask for. Several <c>Kcp-Action</c> lines, or a comma-separated list, must all
    /// name the same action; values are matched without regard to case after trimming spaces and tabs. Anything else
    /// (an unknown word, two different actions, a control character, a value over 64 characters) is
    /// <see cref="EndpointAction.None"/> with <paramref name="unknown"/> set to the value as received: the answer is
    /// then judged by its status and body alone, as if the header were absent. An empty header is absent.
    /// </summary>
    public static EndpointAction Read(HttpResponseHeaders headers, out string? unknown)
    {
        unknown = null;
        if (!headers.NonValidated.TryGetValues(HeaderName, out var values))
        {
            return EndpointAction.None;
        }

        var action = EndpointAction.None;
        foreach (var value in values)
        {
            foreach (var part in value.Split(','))
            {
                var token = part.AsSpan().Trim(" \t");
                if (token.IsEmpty)
                {
                    continue;
                }

                var parsed = Parse(token);
                if (parsed == EndpointAction.None || (action != EndpointAction.None && action != parsed))
                {
                    unknown = string.Join(", ", values);
                    return EndpointAction.None;
                }

                action = parsed;
            }
        }

        return action;
    }

    /// <summary>One action's name, as written in the header; None for anything else.</summary>
    public static EndpointAction Parse(ReadOnlySpan<char> token)
    {
        if (token.Length > MaxValueChars)
        {
            return EndpointAction.None;
        }

        for (var i = 0; i < Names.Length; i++)
        {
            if (token.Equals(Names[i], StringComparison.OrdinalIgnoreCase))
            {
                return (EndpointAction)(i + 1);
            }
        }

        return EndpointAction.None;
    }

    /// <summary>The shortest pause a <c>Retry-After</c> asks for (1 s): zero or a date in the past is one second.</summary>
    public static readonly TimeSpan MinPause = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause a <c>Retry-After</c> asks for that ends by itself (24 hours); a longer one ends then.</summary>
    public static readonly TimeSpan MaxPause = TimeSpan.FromHours(24);

    /// <summary>How long a <c>Kcp-Action: pause</c> with <c>Retry-After</c> <paramref name="retryAfter"/> lasts: within [<see cref="MinPause"/>, <see cref="MaxPause"/>].</summary>
    public static TimeSpan PauseFor(TimeSpan retryAfter) => retryAfter < MinPause ? MinPause : retryAfter > MaxPause ? MaxPause : retryAfter;

    /// <summary>The action as written in the header (<c>dead-letter</c>); empty for None.</summary>
    public static string Name(EndpointAction action) => action == EndpointAction.None ? "" : Names[(int)action - 1];
}
