using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// <c>response_check: expression</c>: an answer judged by the route's <see cref="ResponseExpression"/>, over its status,
/// its headers and its body (read on any status, at most <see cref="ResponseClassifier.MaxBodyBytes"/>). For a batch the
/// expression judges the whole answer: every message of the batch succeeds or fails with it; no <c>retry</c> list or <c>actions</c> are read.
/// </summary>
internal static class ExpressionCheck
{
    /// <summary>The deepest JSON body read into <c>body</c> (64 levels, System.Text.Json's default); a deeper one leaves <c>body</c> null.</summary>
    public const int MaxBodyDepth = 64;

    /// <summary>
    /// Classifies one answer. Accepted: <see cref="DeliveryOutcome.Success"/>, whatever the status. Refused (false, an
    /// error, a result that is not a bool): <see cref="DeliveryOutcome.BadStatus"/> for a status outside 2xx, so that
    /// <c>skip_on_status</c>, <c>Retry-After</c> and the breaker treat it as any bad status; otherwise
    /// <see cref="DeliveryOutcome.RejectedBody"/>, whose reason says what the expression gave.
    /// </summary>
    public static (DeliveryOutcome Outcome, string? Reason) Classify(ResponseExpression expression, int status, IReadOnlyDictionary<string, object?> headers, ReadOnlySpan<byte> body)
    {
        var budget = new EvaluationBudget(TimeProvider.System);
        var (value, text) = ReadBody(body, budget);
        var (accepted, problem) = expression.Evaluate(status, headers, value, text, budget);
        if (accepted)
            return (DeliveryOutcome.Success, null);
        var why = problem is null ? "response_expression is false" : $"response_expression {problem}";
        var preview = body.IsEmpty ? "(empty body)" : LogText.Escape(body);
        return status is < 200 or > 299
            ? (DeliveryOutcome.BadStatus, $"HTTP {status}; {why}")
            : (DeliveryOutcome.RejectedBody, $"{why}: {preview}");
    }

    /// <summary>
    /// The answer's headers as the expression's <c>headers</c>: names in lower case, each with its values joined by
    /// ", " (the response's headers and its content's, as received).
    /// </summary>
    public static IReadOnlyDictionary<string, object?> Headers(HttpResponseMessage response)
    {
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        Add(headers, response.Headers.NonValidated);
        Add(headers, response.Content.Headers.NonValidated);
        return headers;
    }

    private static void Add(Dictionary<string, object?> headers, HttpHeadersNonValidated received)
    {
        foreach (var (name, values) in received)
        {
#pragma warning disable CA1308 // Header names are matched in lower case, as HTTP/2 writes them; a spelling, not a comparison.
            var key = name.ToLowerInvariant();
#pragma warning restore CA1308
            var joined = string.Join(", ", values);
            headers[key] = headers.TryGetValue(key, out var earlier) ? $"{earlier}, {joined}" : joined;
        }
    }

    /// <summary>
    /// The body as the expression's <c>body</c> and <c>body_text</c>. <c>body</c> is the JSON value (object: a map of
    /// strings to values, the last of duplicate names winning; array: a list; a number: an int when written as a whole
    /// number that fits 64 bits, else a double; a string, a bool or null); it is null when the body is empty, is not
    /// valid UTF-8, is not one complete JSON value, or nests deeper than <see cref="MaxBodyDepth"/>. <c>body_text</c> is the
    /// body as text (UTF-8; bytes that are not are read as U+FFFD). Its arrays are <see cref="BudgetedList"/>s of
    /// <paramref name="budget"/>, the budget of the evaluation they are read for.
    /// </summary>
    public static (object? Body, string Text) ReadBody(ReadOnlySpan<byte> body, EvaluationBudget budget)
    {
        var text = Encoding.UTF8.GetString(body);
        if (body.IsEmpty || !System.Text.Unicode.Utf8.IsValid(body))
            return (null, text);
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = MaxBodyDepth });
            using var document = JsonDocument.ParseValue(ref reader);
            // ParseValue reads one value; anything but whitespace and comments after it makes the body not JSON.
            return reader.Read() ? (null, text) : (Value(document.RootElement, budget), text);
        }
        catch (JsonException)
        {
            return (null, text);
        }
    }

    // Recursion bounded by MaxBodyDepth, which the reader enforced.
    private static object? Value(JsonElement element, EvaluationBudget budget) => element.ValueKind switch
    {
        JsonValueKind.Object => Map(element, budget),
        JsonValueKind.Array => new BudgetedList(element.EnumerateArray().Select(e => Value(e, budget)).ToList(), budget),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var whole) ? whole : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static Dictionary<string, object?> Map(JsonElement element, EvaluationBudget budget)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
            map[property.Name] = Value(property.Value, budget);
        return map;
    }
}
