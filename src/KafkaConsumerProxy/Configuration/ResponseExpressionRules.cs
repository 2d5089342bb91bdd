using System.Globalization;
using System.Text.RegularExpressions;
using Antlr4.Runtime;
using Antlr4.Runtime.Tree;
using Cel.Internal;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The load-time checks of a <c>response_expression</c>, before it is compiled: its length and nesting, the syntax (with
/// the position of the first error in the expression), and what it names. The evaluator (the <c>Cel</c> package) has no
/// type checker and would find an unknown variable or function only while evaluating an answer, and then only on the
/// branch that reached it; its parser also drops characters it cannot read (<c>&amp;&amp;&amp;</c> reads as <c>&amp;&amp;</c>). So the
/// expression is lexed and parsed here with listeners that report every such error, and the parse tree is walked for
/// every name. The walk also keeps the cost of an evaluation linear in the size of the answer: a comprehension
/// (<c>all</c>, <c>exists</c>, <c>exists_one</c>, <c>map</c>, <c>filter</c>) may not hold another one, and
/// <c>matches</c> takes its pattern as a string literal, compiled once here for .NET's non-backtracking engine.
/// </summary>
internal static class ResponseExpressionRules
{
    /// <summary>
    /// The longest expression (2,048 characters): a predicate over one answer is a line or two. With
    /// <see cref="MaxNesting"/> it bounds the depth the parser and the evaluator recurse to (measured: 1,000 chained
    /// operators parse and evaluate on a 512 KiB thread stack; 1,000 nested parentheses overflow a 1 MiB one).
    /// </summary>
    public const int MaxLength = 2048;

    /// <summary>The deepest nesting (32): open brackets, plus <c>?:</c> conditionals, plus a run of <c>!</c> or <c>-</c> prefixes.</summary>
    public const int MaxNesting = 32;

    /// <summary>The variables an expression may read, as the docs name them.</summary>
    public static readonly IReadOnlyList<string> Variables = ["status", "headers", "body", "body_text"];

    /// <summary>The evaluator's functions (<c>Cel</c> 0.3.3), callable as <c>f(x)</c> or <c>x.f()</c>.</summary>
    private static readonly HashSet<string> Functions = new(StringComparer.Ordinal)
    {
        "bool", "bytes", "contains", "decimal", "double", "duration", "dyn", "endsWith", "getDate", "getDayOfMonth",
        "getDayOfWeek", "getDayOfYear", "getFullYear", "getHours", "getMilliseconds", "getMinutes", "getMonth",
        "getSeconds", "has", "int", "matches", "size", "startsWith", "string", "timestamp", "type", "uint",
    };

    /// <summary>The comprehension macros, called as <c>list.m(x, predicate)</c>.</summary>
    private static readonly HashSet<string> Macros = new(StringComparer.Ordinal) { "all", "exists", "exists_one", "map", "filter" };

    /// <summary>Type names an expression may compare with: <c>type(body.id) == int</c>.</summary>
    private static readonly HashSet<string> TypeNames = new(StringComparer.Ordinal)
    {
        "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
    };

    /// <summary>
    /// Parses <paramref name="source"/> and checks it; the problems found, each naming where in the expression, and the
    /// parse tree when there were none. The patterns of its <c>matches</c> calls are compiled into <paramref name="patterns"/>.
    /// </summary>
    public static List<string> Check(string source, Func<string, string?> decodeLiteral, Dictionary<string, Regex> patterns, out CelParser.StartContext? tree)
    {
        tree = null;
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(source))
        {
            problems.Add("must be a CEL expression, e.g. status == 200 && body.result == \"ok\"");
            return problems;
        }

        if (source.Length > MaxLength)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"is {source.Length} characters long; at most {MaxLength} are allowed"));
            return problems;
        }

        var lexer = new CelLexer(new AntlrInputStream(source));
        lexer.RemoveErrorListeners();
        lexer.AddErrorListener(new LexerErrors(problems));
        var tokens = new CommonTokenStream(lexer);
        tokens.Fill();
        if (problems.Count > 0)
            return problems;
        if (Nesting(tokens.GetTokens()) is var (depth, at) && depth > MaxNesting)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"nests {depth} levels deep at {Where(at)}; at most {MaxNesting} are allowed (open brackets, ?: conditionals and runs of ! or - count)"));
            return problems;
        }

        var parser = new CelParser(tokens);
        parser.RemoveErrorListeners();
        parser.AddErrorListener(new ParserErrors(problems));
        var start = parser.start();
        if (problems.Count > 0)
            return problems;

        new Walker(problems, decodeLiteral, patterns).Walk(start, new HashSet<string>(StringComparer.Ordinal), inComprehension: false);
        if (problems.Count == 0)
            tree = start;
        return problems;
    }

    /// <summary>Where a token is, as an error says it: "column 7", or "line 2, column 7" in an expression of several lines.</summary>
    private static string Where(IToken token) => Where(token.Line, token.Column);

    private static string Where(int line, int column) => line > 1
        ? string.Create(CultureInfo.InvariantCulture, $"line {line}, column {column + 1} of the expression")
        : string.Create(CultureInfo.InvariantCulture, $"column {column + 1} of the expression");

    // The deepest nesting and where it is reached, counted on the tokens so that the parser never recurses past it.
    private static (int Depth, IToken At)? Nesting(IList<IToken> tokens)
    {
        var brackets = 0;
        var conditionals = 0;
        var prefixes = 0;
        (int, IToken)? deepest = null;
        foreach (var token in tokens)
        {
            if (token.Channel != TokenConstants.DefaultChannel || token.Type == TokenConstants.EOF)
                continue;
            switch (token.Type)
            {
                case CelLexer.LPAREN or CelLexer.LBRACKET or CelLexer.LBRACE:
                    brackets++;
                    break;
                case CelLexer.RPAREN or CelLexer.RPRACKET or CelLexer.RBRACE:
                    brackets--;
                    break;
                case CelLexer.QUESTIONMARK:
                    conditionals++;
                    break;
            }

            prefixes = token.Type is CelLexer.EXCLAM or CelLexer.MINUS ? prefixes + 1 : 0;
            var depth = Math.Max(brackets, 0) + conditionals + prefixes;
            if (deepest is null || depth > deepest.Value.Item1)
                deepest = (depth, token);
        }

        return deepest;
    }

    private sealed class LexerErrors(List<string> problems) : IAntlrErrorListener<int>
    {
        public void SyntaxError(TextWriter output, IRecognizer recognizer, int offendingSymbol, int line, int charPositionInLine, string msg, RecognitionException e)
        {
            // ANTLR says "token recognition error at: '`'"; the character is what the user needs.
            var text = msg.StartsWith("token recognition error at: ", StringComparison.Ordinal) ? "unexpected character " + msg["token recognition error at: ".Length..] : msg;
            problems.Add($"syntax error at {Where(line, charPositionInLine)}: {text}");
        }
    }

    private sealed class ParserErrors(List<string> problems) : IAntlrErrorListener<IToken>
    {
        public void SyntaxError(TextWriter output, IRecognizer recognizer, IToken offendingSymbol, int line, int charPositionInLine, string msg, RecognitionException e) =>
            problems.Add($"syntax error at {Where(line, charPositionInLine)}: {msg}");
    }

    /// <summary>Walks the parse tree for names, nested comprehensions and <c>matches</c> patterns.</summary>
    private sealed class Walker(List<string> problems, Func<string, string?> decodeLiteral, Dictionary<string, Regex> patterns)
    {
        public void Walk(IParseTree node, IReadOnlySet<string> bound, bool inComprehension)
        {
            switch (node)
            {
                case CelParser.IdentOrGlobalCallContext ident:
                    Ident(ident, bound, inComprehension);
                    return;
                case CelParser.MemberCallContext call:
                    MemberCall(call, bound, inComprehension);
                    return;
                case CelParser.SelectContext select:
                    // The field's name is not a variable.
                    Walk(select.member(), bound, inComprehension);
                    return;
                case CelParser.CreateMessageContext message:
                    problems.Add($"creates a message at {Where(message.Start)}: kcp gives the expression no message types; use a map {{\"key\": value}}");
                    return;
            }

            for (var i = 0; i < node.ChildCount; i++)
                Walk(node.GetChild(i), bound, inComprehension);
        }

        private void Ident(CelParser.IdentOrGlobalCallContext ident, IReadOnlySet<string> bound, bool inComprehension)
        {
            var name = ident.id.Text;
            if (ident.leadingDot is not null)
            {
                // The evaluator reads '.name' as a reference to '.', which fails on every answer.
                problems.Add($"'.{name}' at {Where(ident.leadingDot)}: a leading '.' is not supported; write {name}");
                return;
            }

            if (ident.op is null)
            {
                if (!bound.Contains(name) && !Variables.Contains(name) && !TypeNames.Contains(name))
                    problems.Add($"unknown variable '{name}' at {Where(ident.id)}; the variables are {string.Join(", ", Variables)}");
                return;
            }

            var args = ident.args?.expr() ?? [];
            if (!Functions.Contains(name))
                problems.Add($"unknown function '{name}' at {Where(ident.id)}{Suggestion(name)}");
            else if (name == "matches")
                Pattern(ident.id, args.Length == 2 ? args[1] : null);
            foreach (var arg in args)
                Walk(arg, bound, inComprehension);
        }

        private void MemberCall(CelParser.MemberCallContext call, IReadOnlySet<string> bound, bool inComprehension)
        {
            var name = call.id.Text;
            var args = call.args?.expr() ?? [];
            Walk(call.member(), bound, inComprehension);
            if (Macros.Contains(name))
            {
                if (args.Length != 2 || !IsIdentifier(args[0].GetText()))
                {
                    problems.Add($"{name} at {Where(call.id)} takes a variable name and a predicate: list.{name}(x, x > 0)");
                    return;
                }

                if (inComprehension)
                {
                    problems.Add($"{name} at {Where(call.id)} is inside another comprehension; nested comprehensions are not allowed, so that an answer's evaluation stays linear in its size");
                    return;
                }

                var inner = new HashSet<string>(bound, StringComparer.Ordinal) { args[0].GetText() };
                Walk(args[1], inner, inComprehension: true);
                return;
            }

            if (!Functions.Contains(name))
                problems.Add($"unknown function '{name}' at {Where(call.id)}{Suggestion(name)}");
            else if (name == "matches")
                Pattern(call.id, args.Length == 1 ? args[0] : null);
            foreach (var arg in args)
                Walk(arg, bound, inComprehension);
        }

        // The pattern must be a string literal: checked and compiled once, and never taken from the answer.
        private void Pattern(IToken at, CelParser.ExprContext? pattern)
        {
            var literal = pattern is null ? null : SingleToken(pattern);
            var text = literal?.Type == CelLexer.STRING ? decodeLiteral(literal.Text) : null;
            if (text is null)
            {
                problems.Add($"matches at {Where(at)} takes its pattern as a string literal, e.g. body.id.matches('^[0-9]+$')");
                return;
            }

            try
            {
                patterns[text] = new Regex(text, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, ResponseExpression.MaxEvaluationTime);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                problems.Add($"matches at {Where(at)}: the pattern cannot be used ({ex.Message})");
            }
        }

        private static IToken? SingleToken(IParseTree tree)
        {
            IToken? found = null;
            var count = 0;
            void Visit(IParseTree node)
            {
                if (node is ITerminalNode terminal)
                {
                    found = terminal.Symbol;
                    count++;
                }

                for (var i = 0; i < node.ChildCount; i++)
                    Visit(node.GetChild(i));
            }

            Visit(tree);
            return count == 1 ? found : null;
        }

        private static bool IsIdentifier(string text) =>
            text.Length > 0 && (char.IsAsciiLetter(text[0]) || text[0] == '_') && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

        private static string Suggestion(string name)
        {
            var known = Functions.Concat(Macros).FirstOrDefault(f => f.Equals(name, StringComparison.OrdinalIgnoreCase));
            return known is null ? "" : $"; did you mean '{known}'?";
        }
    }
}
