using System.Globalization;
using System.Text.RegularExpressions;
using Cel;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// A route's <c>response_expression</c> (with <c>response_check: expression</c>): a CEL expression over the answer's
/// <c>status</c>, <c>headers</c>, <c>body</c> and <c>body_text</c> that is true when the answer means the message was
/// delivered. Checked (<see cref="ResponseExpressionRules"/>) and compiled once, when the route is loaded; evaluated
/// for every answer by <c>Delivery/ResponseClassifier</c>, from any number of threads at once.
/// </summary>
/// <remarks>
/// The evaluator is the <c>Cel</c> package (TELUS, Apache-2.0), the one CEL implementation for .NET this project's
/// package source serves; it runs on .NET 10 and is released in 2026, but it has no type checker, no cost limits and a
/// <c>matches</c> without a time limit. What kcp adds for that is said in <see cref="ResponseExpressionRules"/> and
/// <see cref="Evaluate"/>. Two routes with the same text are the same setting (<see cref="Equals(object?)"/>): a
/// reload does not restart a route whose expression did not change.
/// </remarks>
internal sealed class ResponseExpression
{
    /// <summary>
    /// The longest an evaluation may run (1 s; a usual one takes microseconds, and the margin keeps a busy machine's
    /// pauses and the first evaluation's compilation from refusing a good answer): it is checked whenever the expression
    /// reads one of its variables or an element of a list of the body (<see cref="EvaluationBudget"/>), and bounds
    /// <c>matches</c>, so that an expression whose cost grows with the answer cannot hold a partition on a hostile body.
    /// </summary>
    public static readonly TimeSpan MaxEvaluationTime = TimeSpan.FromSeconds(1);

    private readonly CelProgramDelegate _program;

    private ResponseExpression(string source, CelProgramDelegate program)
    {
        Source = source;
        _program = program;
    }

    /// <summary>The expression as written.</summary>
    public string Source { get; }

    /// <summary>
    /// Checks and compiles <paramref name="source"/>; null with the problems found (each naming its position in the
    /// expression) when it cannot be used.
    /// </summary>
    public static ResponseExpression? Compile(string source, out IReadOnlyList<string> problems)
    {
        var environment = new CelEnvironment(null, null);
        var patterns = new Dictionary<string, Regex>(StringComparer.Ordinal);
        var found = ResponseExpressionRules.Check(source, literal => DecodeLiteral(environment, literal), patterns, out var tree);
        problems = found;
        if (tree is null)
            return null;

        // The package's own matches builds a backtracking Regex with no time limit for every call; this one uses the
        // patterns compiled at load for the non-backtracking engine (linear in the input), registered after the
        // package's, which it therefore replaces.
        environment.RegisterFunction("matches", [typeof(string), typeof(string)], args => Matches(patterns, args));
        try
        {
            var expression = new ResponseExpression(source, environment.Compile(tree));
            // One evaluation at load, whatever it gives, compiles the evaluator's code for the first answer, which would
            // otherwise spend part of its time budget on it.
            expression.Evaluate(200, new Dictionary<string, object?>(), null, "");
            return expression;
        }
        catch (CelException ex)
        {
            found.Add($"cannot be compiled: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Evaluates the expression over one answer: true when it accepts it; false with a null problem when it refuses it
    /// (it gave false); false with the problem when it could not decide: an error while evaluating (a missing field,
    /// an index out of range, a type without the operator used), a result that is not a bool, or an evaluation longer
    /// than <see cref="MaxEvaluationTime"/>. It never throws for anything the answer holds.
    /// </summary>
    public (bool Accepted, string? Problem) Evaluate(long status, IReadOnlyDictionary<string, object?> headers, object? body, string bodyText, EvaluationBudget? budget = null)
    {
        // The body's lists (BudgetedList) share the budget they were made with.
        budget ??= new EvaluationBudget(TimeProvider.System);
        budget.Start();
        var variables = new Budgeted(budget)
        {
            ["status"] = status,
            ["headers"] = headers,
            ["body"] = body,
            ["body_text"] = bodyText,
        };
        object? result;
        try
        {
            result = _program(variables);
        }
#pragma warning disable CA1031 // Whatever the evaluator throws on an answer's values is a refusal with its reason, never a crash of the delivery.
        catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return (false, budget.Exceeded ? OverBudget : $"evaluation failed: {Describe(ex)}");
        }

        if (budget.Exceeded)
            return (false, OverBudget);
        return result switch
        {
            bool accepted => (accepted, null),
            null => (false, "evaluation gave null, not a bool (a comprehension whose predicate failed or was not a bool gives null)"),
            _ => (false, $"evaluation gave {Shown(result)}, not a bool"),
        };
    }

    /// <summary>Two expressions are the same setting when their text is the same.</summary>
    public override bool Equals(object? obj) => obj is ResponseExpression other && other.Source == Source;

    /// <inheritdoc/>
    public override int GetHashCode() => Source.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Source;

    private static string OverBudget => string.Create(CultureInfo.InvariantCulture, $"evaluation stopped after {MaxEvaluationTime.TotalSeconds:0.###} s");

    private static string Describe(Exception ex) => ex switch
    {
        RegexMatchTimeoutException => "matches ran out of time",
        CelException when ex.InnerException is { } inner => $"{ex.Message} ({inner.Message})",
        CelException => ex.Message,
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    private static string Shown(object value) => value switch
    {
        string s => $"the string \"{(s.Length > 40 ? s[..40] + "…" : s)}\"",
        long or ulong or double or decimal => $"the number {Convert.ToString(value, CultureInfo.InvariantCulture)}",
        System.Collections.IDictionary => "a map",
        System.Collections.IEnumerable => "a list",
        _ => $"a {value.GetType().Name}",
    };

    // A CEL string literal's value, read by the evaluator itself so that its escapes mean what they will mean at run time.
    private static string? DecodeLiteral(CelEnvironment environment, string literal)
    {
        try
        {
            return environment.Compile(literal)(new Dictionary<string, object?>()) as string;
        }
        catch (CelException)
        {
            return null;
        }
    }

    private static object? Matches(Dictionary<string, Regex> patterns, object?[] args)
    {
        if (args is not [string text, string pattern])
            throw new CelNoSuchOverloadException("matches takes a string and a pattern");
        // Every pattern is a literal compiled at load; the lookup cannot miss, but a miss is still bounded.
        var regex = patterns.TryGetValue(pattern, out var compiled)
            ? compiled
            : new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MaxEvaluationTime);
        return regex.IsMatch(text);
    }

    /// <summary>
    /// The variables of one evaluation. The evaluator reads them through <see cref="IDictionary{TKey, TValue}.TryGetValue"/>
    /// only, once per reference and so once per iteration of a comprehension that names one: re-implemented here to
    /// check the <see cref="EvaluationBudget"/>. Past it, it throws, which ends the evaluation (or, inside the package's
    /// <c>all</c> and <c>exists_one</c>, which swallow errors, ends each further iteration at once).
    /// </summary>
    private sealed class Budgeted(EvaluationBudget budget) : Dictionary<string, object?>(StringComparer.Ordinal), IDictionary<string, object?>
    {
        bool IDictionary<string, object?>.TryGetValue(string key, out object? value)
        {
            budget.Check();
            return TryGetValue(key, out value);
        }
    }
}
