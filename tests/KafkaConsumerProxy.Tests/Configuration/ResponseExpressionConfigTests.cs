using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Routes;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// <c>response_check: expression</c> with <c>response_expression</c> at load time: each problem is a configuration error
/// naming the file, the key, the value, the YAML line and column, and the position in the expression.
/// </summary>
public sealed class ResponseExpressionConfigTests : IDisposable
{
    private const string Main = "clusters:\n  default:\n    bootstrap_servers: \"127.0.0.1:9092\"\n";
    private readonly ConfigDirectory _dir = new("kcp-cel-");

    [Fact]
    public void ValidExpression_CompiledOnceAtLoad_KeptOnTheRoute_Issue20()
    {
        var config = _dir.Load(Main, "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: 'status == 200 && body.result == \"ok\"'\n");

        var endpoint = Assert.Single(config.Routes).Endpoint;
        Assert.Equal(ResponseCheck.Expression, endpoint.ResponseCheck);
        Assert.Equal("status == 200 && body.result == \"ok\"", endpoint.ResponseExpression!.Source);
        Assert.True(endpoint.ResponseExpression.Evaluate(200, new Dictionary<string, object?>(), new Dictionary<string, object?> { ["result"] = "ok" }, "").Accepted);
    }

    [Fact]
    public void Reload_SameExpressionText_SameRoute_AnotherText_AChangedRoute_Issue20()
    {
        const string Route = "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: status == 200\n";
        var first = Assert.Single(_dir.Load(Main, Route).Routes);
        var again = Assert.Single(_dir.Load(Main, Route).Routes);
        var changed = Assert.Single(_dir.Load(Main, Route.Replace("200", "201", StringComparison.Ordinal)).Routes);

        Assert.True(RouteComparison.Same(first, again));
        Assert.False(RouteComparison.Same(first, changed));
    }

    [Fact]
    public void SyntaxError_ConfigErrorWithFileKeyValueYamlPositionAndColumnInTheExpression_Issue20()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: status == 200 && body.result ==\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal(_dir.RouteFile, error.File);
        Assert.Equal(("response_expression", "status == 200 && body.result ==", 5, 22), (error.Key, error.Value, error.Line, error.Column));
        Assert.StartsWith("syntax error at column 32 of the expression: mismatched input '<EOF>'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownVariable_NamedWithItsColumn_AndTheVariablesThereAre_Issue20()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: status == 200 && bdy.ok\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal("unknown variable 'bdy' at column 18 of the expression; the variables are status, headers, body, body_text", error.Message);
        Assert.Equal((5, 22), (error.Line, error.Column));
    }

    [Fact]
    public void MultiLineExpression_PositionGivesLineAndColumnWithinIt_Issue20()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: |\n  status == 200\n  && body.ok == tru\n");

        var error = Assert.Single(_dir.Errors());

        Assert.Equal("unknown variable 'tru' at line 2, column 15 of the expression; the variables are status, headers, body, body_text", error.Message);
    }

    [Fact]
    public void CheckWithoutExpression_AndExpressionWithoutCheck_EachRefused_Issue20()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\n");
        var missing = Assert.Single(_dir.Errors());
        Assert.Equal(("response_check", "expression"), (missing.Key, missing.Value));
        Assert.StartsWith("needs response_expression", missing.Message, StringComparison.Ordinal);

        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_expression: status == 200\n");
        var unused = Assert.Single(_dir.Errors());
        Assert.Equal(("response_expression", "status == 200"), (unused.Key, unused.Value));
        Assert.Equal("is read only with response_check: expression; add it, or remove response_expression", unused.Message);
    }

    [Fact]
    public void SeveralProblems_EachItsOwnError_Issue20()
    {
        _dir.WriteMain(Main);
        _dir.Write("routes/r.yaml", "topic: t\ngroup: g\nendpoint: http://h/x\nresponse_check: expression\nresponse_expression: 'stat == 200 && lower(body.x) == \"ok\"'\n");

        var errors = _dir.Errors();

        Assert.Equal(
            ["unknown variable 'stat' at column 1 of the expression; the variables are status, headers, body, body_text", "unknown function 'lower' at column 16 of the expression"],
            errors.Select(e => e.Message));
    }

    public void Dispose() => _dir.Dispose();
}
