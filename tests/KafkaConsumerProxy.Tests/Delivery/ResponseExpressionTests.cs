using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// <c>response_expression</c> as a predicate over an answer: what it accepts and refuses, what it refuses to compile,
/// and hostile bodies, which must end in a refusal with a reason within the evaluation budget, never in a success or a crash.
/// </summary>
public sealed class ResponseExpressionTests
{
    private static readonly IReadOnlyDictionary<string, object?> NoHeaders = new Dictionary<string, object?>();

    [Theory]
    [InlineData("status == 200 && body.result == \"ok\"", 200, "{\"result\":\"ok\"}", true)]
    [InlineData("status == 200 && body.result == \"ok\"", 200, "{\"result\":\"no\"}", false)]
    [InlineData("status == 200 && body.result == \"ok\"", 201, "{\"result\":\"ok\"}", false)]
    [InlineData("status == 409 || (status == 200 && has(body.id))", 409, "", true)]
    [InlineData("body.count > 2 && body.ratio < 0.5", 200, "{\"count\":3,\"ratio\":0.25}", true)]
    [InlineData("body.count == 3.0", 200, "{\"count\":3}", true)]
    [InlineData("body.items.all(i, i.ok) && size(body.items) == 2", 200, "{\"items\":[{\"ok\":true},{\"ok\":true}]}", true)]
    [InlineData("body.items.exists(i, i.ok == false)", 200, "{\"items\":[{\"ok\":true},{\"ok\":true}]}", false)]
    [InlineData("body == null && body_text.startsWith(\"OK\")", 200, "OK done", true)]
    [InlineData("body.errno == null", 200, "{\"errno\":null}", true)]
    [InlineData("body.id.matches('^[0-9]+$')", 200, "{\"id\":\"123\"}", true)]
    [InlineData("body.id.matches('^[0-9]+$')", 200, "{\"id\":\"12a\"}", false)]
    [InlineData("body.big == 12345678901234", 200, "{\"big\":12345678901234}", true)]
    [InlineData("body[0] == 'first'", 200, "[\"first\"]", true)]
    public void Evaluate_AsWritten(string source, int status, string body, bool accepted)
    {
        var (outcome, reason) = Classify(source, status, body);

        Assert.Equal(accepted ? DeliveryOutcome.Success : status is >= 200 and < 300 ? DeliveryOutcome.RejectedBody : DeliveryOutcome.BadStatus, outcome);
        if (!accepted && status is >= 200 and < 300)
            Assert.StartsWith("response_expression is false: ", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Headers_LowerCaseNames_SeveralValuesJoined()
    {
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        response.Headers.TryAddWithoutValidation("X-Result", "ok");
        response.Headers.TryAddWithoutValidation("X-Result", "fine");

        var headers = ExpressionCheck.Headers(response);

        Assert.Equal("ok, fine", headers["x-result"]);
        Assert.Equal("application/json; charset=utf-8", headers["content-type"]);
        var expression = Compile("headers['x-result'].startsWith('ok') && headers['content-type'].contains('json')");
        Assert.Equal(DeliveryOutcome.Success, ExpressionCheck.Classify(expression, 200, headers, "{}"u8).Outcome);
    }

    [Theory]
    [InlineData("body.missing == 1", "{\"other\":1}", "response_expression evaluation failed:")]
    [InlineData("body.result + 1 == 2", "{\"result\":\"x\"}", "response_expression evaluation failed:")]
    [InlineData("body.list[5] == 1", "{\"list\":[1]}", "response_expression evaluation failed:")]
    [InlineData("int(body.n) > 0", "{\"n\":\"many\"}", "response_expression evaluation failed:")]
    [InlineData("body.result", "{\"result\":\"ok\"}", "response_expression evaluation gave the string \"ok\", not a bool")]
    [InlineData("status", "{}", "response_expression evaluation gave the number 200, not a bool")]
    [InlineData("body", "[1]", "response_expression evaluation gave a list, not a bool")]
    public void TypeErrorsAndNonBoolResults_RefusedWithTheReason(string source, string body, string reasonStart)
    {
        var (outcome, reason) = Classify(source, 200, body);

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith(reasonStart, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusedOutside2xx_IsABadStatus_SoRetryAfterAndSkipOnStatusApply()
    {
        var (outcome, reason) = Classify("status == 200", 503, "busy");

        Assert.Equal(DeliveryOutcome.BadStatus, outcome);
        Assert.Equal("HTTP 503; response_expression is false", reason);
    }

    [Theory]
    [InlineData("", "must be a CEL expression")]
    [InlineData("status == 200 &&& true", "syntax error at column 17 of the expression: unexpected character '& '")]
    [InlineData("status == 200 && `x`", "syntax error at column 18 of the expression: unexpected character '`'")]
    [InlineData("status == (200", "syntax error at column 15 of the expression: missing ')' at '<EOF>'")]
    [InlineData("foo(1) == 1", "unknown function 'foo' at column 1 of the expression")]
    [InlineData("body.x.startswith('a')", "unknown function 'startswith' at column 8 of the expression; did you mean 'startsWith'?")]
    [InlineData("body.l.all(x, body.l.exists(y, x == y))", "exists at column 22 of the expression is inside another comprehension")]
    [InlineData("body.l.all(1, true)", "all at column 8 of the expression takes a variable name and a predicate")]
    [InlineData("body.id.matches(body.pattern)", "matches at column 9 of the expression takes its pattern as a string literal")]
    [InlineData("body.id.matches('(a)\\\\1')", "matches at column 9 of the expression: the pattern cannot be used")]
    [InlineData("google.protobuf.Duration{seconds: 1} == duration('1s')", "creates a message at column 1 of the expression")]
    [InlineData(".status == 200", "'.status' at column 1 of the expression: a leading '.' is not supported; write status")]
    public void Compile_Refused_WithThePositionInTheExpression(string source, string problemStart)
    {
        Assert.Null(ResponseExpression.Compile(source, out var problems));
        Assert.StartsWith(problemStart, problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_TooLongOrTooDeep_RefusedBeforeParsing()
    {
        Assert.Null(ResponseExpression.Compile("true" + string.Concat(Enumerable.Repeat(" && true", 300)), out var tooLong));
        Assert.Equal("is 2404 characters long; at most 2048 are allowed", Assert.Single(tooLong));
        // 1,000 nested parentheses overflow the parser's stack: refused on the tokens, before it runs.
        Assert.Null(ResponseExpression.Compile(new string('(', 1000) + "true" + new string(')', 1000), out var tooDeep));
        Assert.StartsWith("nests 1000 levels deep at column 1000 of the expression", Assert.Single(tooDeep), StringComparison.Ordinal);
        Assert.Null(ResponseExpression.Compile(new string('(', 33) + "true" + new string(')', 33), out var deep));
        Assert.StartsWith("nests 33 levels deep at column 33 of the expression; at most 32", Assert.Single(deep), StringComparison.Ordinal);
        Assert.NotNull(ResponseExpression.Compile(new string('(', 32) + "true" + new string(')', 32), out _));
    }

    [Fact]
    public void ConfigurationDocExamples_CompileAndDecideAsDescribed()
    {
        var headers = new Dictionary<string, object?> { ["x-stored"] = "true", ["content-type"] = "application/json" };
        Assert.Equal(DeliveryOutcome.Success, ExpressionCheck.Classify(
            Compile("status == 409\n|| (status == 200 && has(body.id) && headers[\"x-stored\"] == \"true\")"), 200, headers, "{\"id\":7}"u8).Outcome);
        Assert.Equal(DeliveryOutcome.Success, ExpressionCheck.Classify(
            Compile("status == 409\n|| (status == 200 && has(body.id) && headers[\"x-stored\"] == \"true\")"), 409, NoHeaders, ""u8).Outcome);
        var items = Compile("status >= 200 && status < 300 && headers[\"content-type\"].startsWith(\"application/json\")\n&& body.items.all(i, i.status == \"accepted\")");
        Assert.Equal(DeliveryOutcome.Success, ExpressionCheck.Classify(items, 202, headers, "{\"items\":[{\"status\":\"accepted\"}]}"u8).Outcome);
        Assert.Equal(DeliveryOutcome.RejectedBody, ExpressionCheck.Classify(items, 202, headers, "{\"items\":[{\"status\":\"queued\"}]}"u8).Outcome);
        Assert.Equal(DeliveryOutcome.Success, Classify("body_text.startsWith(\"OK\")", 200, "OK stored").Outcome);
    }

    [Fact]
    public void Compiled_VariablesBoundByComprehensionsAndTypeNames_Accepted()
    {
        Assert.NotNull(ResponseExpression.Compile("body.l.filter(x, x > 1).all(y, y < 9) && type(status) == int && [1].map(z, z + 1) == [2]", out var problems));
        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"result\":\"ok\"")]
    [InlineData("{\"result\":\"ok\"} trailing")]
    [InlineData("")]
    public void NotJson_BodyIsNull_BodyTextHoldsTheText(string text)
    {
        var (body, bodyText) = ExpressionCheck.ReadBody(Encoding.UTF8.GetBytes(text), new EvaluationBudget(TimeProvider.System));

        Assert.Null(body);
        Assert.Equal(text, bodyText);
        Assert.Equal(DeliveryOutcome.RejectedBody, Classify("body.result == 'ok'", 200, text).Outcome);
    }

    [Fact]
    public void HostileBodies_RefusedOrReadAsNull_NeverASuccessOrACrash()
    {
        const string Source = "body.result == 'ok'";
        // Nested past the reader's depth: body is null, and null.result is null, not "ok".
        Assert.Equal(DeliveryOutcome.RejectedBody, Classify(Source, 200, new string('[', 5000) + new string(']', 5000)).Outcome);
        Assert.Equal(DeliveryOutcome.RejectedBody, Classify(Source, 200, string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100)).Outcome);
        // Not UTF-8: body is null, the text has U+FFFD where the bad bytes were.
        var (body, text) = ExpressionCheck.ReadBody([0x7B, 0xFF, 0x7D], new EvaluationBudget(TimeProvider.System));
        Assert.Null(body);
        Assert.Equal("{\uFFFD}", text);
        // Duplicate names: the last one wins, as most JSON readers do.
        Assert.Equal(DeliveryOutcome.Success, Classify(Source, 200, "{\"result\":\"no\",\"result\":\"ok\"}").Outcome);
        // A number too large for 64 bits is a double, not an error.
        Assert.Equal(DeliveryOutcome.Success, Classify("body.n > 1.0e20", 200, "{\"n\":123456789012345678901234567890}").Outcome);
    }

    [Fact]
    public void QuadraticExpressionOnALargeBody_StoppedByTheBudget_RefusedWithTheReason()
    {
        // 64 KiB of a list: an "in" over the body, of a value it does not hold (so each scan reads the whole list), for each
        // of its items is quadratic (about 10^9 comparisons): far more than 1 s on any machine.
        var items = string.Join(",", Enumerable.Repeat("1", ResponseClassifier.MaxBodyBytes / 2 - 10));
        var (outcome, reason) = Classify("body.l.all(x, !(2 in body.l))", 200, "{\"l\":[" + items + "]}");

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith("response_expression evaluation stopped after 1 s", reason, StringComparison.Ordinal);

        // A list of lists built with map, searched item by item, reads no variable in its loop: the body's lists check.
        (outcome, reason) = Classify("body.l.map(x, body.l).exists(m, 2 in m)", 200, "{\"l\":[" + items + "]}");
        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
        Assert.StartsWith("response_expression evaluation stopped after 1 s", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CatastrophicPatternOnAHostileString_LinearEngine_Decides()
    {
        var (outcome, _) = Classify("body.s.matches('^(a+)+$')", 200, "{\"s\":\"" + new string('a', 30_000) + "!\"}");

        Assert.Equal(DeliveryOutcome.RejectedBody, outcome);
    }

    [Fact]
    public async Task OneExpression_EvaluatedOnManyThreadsAtOnce_EachAnswerItsOwnVerdict()
    {
        var expression = Compile("body.items.exists(i, i == body.want)");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
            Enumerable.Range(0, 200).All(i =>
            {
                var want = (t + i) % 2 == 0;
                var json = want ? "{\"items\":[1,2,3],\"want\":2}" : "{\"items\":[1,2,3],\"want\":7}";
                return (ExpressionCheck.Classify(expression, 200, NoHeaders, Encoding.UTF8.GetBytes(json)).Outcome == DeliveryOutcome.Success) == want;
            }))));

        Assert.All(results, Assert.True);
    }

    [Fact]
    public void SameText_SameSetting_ForReloads()
    {
        Assert.Equal(Compile("status == 200"), Compile("status == 200"));
        Assert.NotEqual(Compile("status == 200"), Compile("status == 201"));
    }

    private static ResponseExpression Compile(string source) =>
        ResponseExpression.Compile(source, out var problems) ?? throw new InvalidOperationException(string.Join("; ", problems));

    private static (DeliveryOutcome Outcome, string? Reason) Classify(string source, int status, string body) =>
        ExpressionCheck.Classify(Compile(source), status, NoHeaders, Encoding.UTF8.GetBytes(body));
}
