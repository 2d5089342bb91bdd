using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Delivery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Delivery.Auth;

/// <summary><c>auth</c> and <c>headers</c> through real sockets: a Kestrel endpoint, and a Kestrel token endpoint for OAuth2.</summary>
public sealed class AuthDeliveryTests
{
    private static readonly KafkaRecord Record = new("orders", 3, 42, 0, null, "{\"total\":7}"u8.ToArray(), []);

    [Fact]
    public async Task Bearer_AuthorizationHeaderSent_Issue11()
    {
        var seen = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(Recording(seen, c => c.Request.Headers.Authorization.ToString()));
        using var http = new HttpDeliverer(Route(endpoint.Port, new AuthSettings { Type = AuthType.Bearer, Token = "t0ken.abc" }));

        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess);

        Assert.Equal(["Bearer t0ken.abc"], seen);
    }

    [Fact]
    public async Task Basic_AuthorizationHeaderSent_Issue11()
    {
        var seen = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(Recording(seen, c => c.Request.Headers.Authorization.ToString()));
        using var http = new HttpDeliverer(Route(endpoint.Port, new AuthSettings { Type = AuthType.Basic, Username = "kcp", Password = "pä:ss" }));

        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess);

        Assert.Equal(["Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("kcp:pä:ss"))], seen);
    }

    [Fact]
    public async Task StaticHeaders_SentAlongsideKcpHeaders_Issue11()
    {
        var seen = new ConcurrentQueue<string>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(Recording(seen, c => $"{c.Request.Headers["X-Tenant"]}|{c.Request.Headers["X-Kafka-Offset"]}"));
        var route = Route(endpoint.Port, null);
        using var http = new HttpDeliverer(route with { Endpoint = route.Endpoint with { Headers = [new("X-Tenant", "acme")] } });

        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess);

        Assert.Equal(["acme|42"], seen);
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    [InlineData("plain shared secret")]
    public async Task Hmac_StandardWebhooksHeaders_VerifiedByAnIndependentImplementation_Issue11(string secret)
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var seen = new ConcurrentQueue<(string Id, string Timestamp, string Signature, byte[] Body)>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var h = context.Request.Headers;
            seen.Enqueue((h["webhook-id"].ToString(), h["webhook-timestamp"].ToString(), h["webhook-signature"].ToString(), body.ToArray()));
            await context.Response.WriteAsync("{\"errno\":0}");
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, new AuthSettings { Type = AuthType.Hmac, Secret = secret }), time);

        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess);

        var (id, timestamp, signature, sentBody) = Assert.Single(seen);
        Assert.Equal(("orders/3/42", "1700000000"), (id, timestamp));
        Assert.True(Verify(secret, id, timestamp, sentBody, signature), $"signature {signature} does not verify");
        Assert.False(Verify(secret, id, timestamp, [.. sentBody, (byte)' '], signature));
    }

    [Fact]
    public async Task OAuth2_TokenCachedRefreshedBeforeExpiryAndOnceAfter401_Issue11()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var issued = 0;
        var grants = new ConcurrentQueue<string>();
        await using var tokens = await ScriptedEndpoint.StartAsync(async context =>
        {
            var form = await context.Request.ReadFormAsync();
            grants.Enqueue($"{form["grant_type"]} {form["client_id"]} {form["client_secret"]} {form["scope"]}");
            var n = Interlocked.Increment(ref issued);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($"{{\"access_token\":\"tok-{n}\",\"token_type\":\"Bearer\",\"expires_in\":600}}");
        });
        var used = new ConcurrentQueue<string>();
        var refuse = "";
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            var authorization = context.Request.Headers.Authorization.ToString();
            used.Enqueue(authorization);
            context.Response.StatusCode = authorization == refuse ? 401 : 200;
            await context.Response.WriteAsync("{\"errno\":0}");
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, OAuth(tokens.Port)), time);

        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess);
        time.Advance(TimeSpan.FromSeconds(500));
        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess); // cached: 100 s left, more than the 60 s margin
        time.Advance(TimeSpan.FromSeconds(45));
        Assert.True((await http.SendAsync(Record, 0, 1)).IsSuccess); // 55 s left: fetched again before it expires
        refuse = "Bearer tok-2";
        var afterRevoke = await http.SendAsync(Record, 0, 1);      // 401: one new token, one more try

        Assert.True(afterRevoke.IsSuccess, afterRevoke.Describe());
        Assert.Equal(["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2", "Bearer tok-3"], used);
        Assert.Equal(3, issued);
        Assert.All(grants, g => Assert.Equal("client_credentials kcp-client s3cret-value orders.write", g));
    }

    [Fact]
    public async Task OAuth2_Still401WithTheNewToken_BadStatusAfterOneRefresh_Issue11()
    {
        var issued = 0;
        await using var tokens = await ScriptedEndpoint.StartAsync(async context =>
        {
            var n = Interlocked.Increment(ref issued);
            await context.Response.WriteAsync($"{{\"access_token\":\"tok-{n}\",\"expires_in\":600}}");
        });
        await using var endpoint = await ScriptedEndpoint.StartAsync(context =>
        {
            context.Response.StatusCode = 401;
            return Task.CompletedTask;
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, OAuth(tokens.Port)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal((DeliveryOutcome.BadStatus, 401), (result.Outcome, result.StatusCode));
        Assert.Equal(2, issued);
        Assert.Equal(2, endpoint.Requests);
    }

    [Theory]
    [InlineData(500, "{\"error\":\"server_error\",\"echo\":\"s3cret-value\"}", "answered HTTP 500: {\"error\":\"server_error\",\"echo\":\"***\"}")]
    [InlineData(200, "{\"token_type\":\"Bearer\"}", "answered without a token")]
    [InlineData(200, "not json", "answered without a token")]
    public async Task OAuth2_TokenEndpointFails_AuthErrorWithReasonAndNoRequest_Issue11(int status, string body, string expected)
    {
        await using var tokens = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsync(body);
        });
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync("{\"errno\":0}"));
        using var http = new HttpDeliverer(Route(endpoint.Port, OAuth(tokens.Port)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.AuthError, result.Outcome);
        Assert.Contains($"token_url http://127.0.0.1:{tokens.Port}/token {expected}", result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", result.Describe(), StringComparison.Ordinal);
        Assert.Equal(0, endpoint.Requests);
    }

    [Fact]
    public async Task OAuth2_TokenEndpointDown_AuthErrorNotACrash_Issue11()
    {
        int port;
        await using (var gone = await ScriptedEndpoint.StartAsync(_ => Task.CompletedTask))
            port = gone.Port;
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync("{\"errno\":0}"));
        using var http = new HttpDeliverer(Route(endpoint.Port, OAuth(port)));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.AuthError, result.Outcome);
        Assert.Contains("failed:", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bearer", 401, false)]
    [InlineData("bearer", 200, true)]
    [InlineData("basic", 401, true)]
    [InlineData("basic", 200, false)]
    [InlineData("oauth2", 401, true)]
    [InlineData("oauth2", 200, false)]
    [InlineData("hmac", 401, false)]
    [InlineData("hmac", 200, true)]
    public async Task EndpointEchoesItsCredentials_MaskedInExcerptReasonAndDeadLetterBody_Issue23(string type, int status, bool deadLetter)
    {
        var tokens = new ConcurrentQueue<string>();
        await using var tokenServer = await ScriptedEndpoint.StartAsync(async context =>
        {
            var token = $"at-{Guid.NewGuid():N}";
            tokens.Enqueue(token);
            await context.Response.WriteAsync($"{{\"access_token\":\"{token}\",\"expires_in\":600}}");
        });
        const string Password = "pa+ss/word-9";
        const string HmacKey = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        var (auth, secrets) = type switch
        {
            "bearer" => (new AuthSettings { Type = AuthType.Bearer, Token = "t0ken.abc-123" }, new[] { "t0ken.abc-123" }),
            "basic" => (new AuthSettings { Type = AuthType.Basic, Username = "kcp", Password = Password }, [Password, Convert.ToBase64String(Encoding.UTF8.GetBytes("kcp:" + Password))]),
            "oauth2" => (OAuth(tokenServer.Port), ["s3cret-value"]),
            _ => (new AuthSettings { Type = AuthType.Hmac, Secret = "whsec_" + HmacKey }, ["whsec_" + HmacKey, HmacKey]),
        };
        // Every credential the request carried, and the configured secret, quoted back as System.Text.Json writes them.
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.StatusCode = status;
            var echo = $"bad auth: {context.Request.Headers.Authorization} {string.Join(' ', secrets)}";
            await context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new { errno = 401, msg = echo }));
        });
        var route = Route(endpoint.Port, auth);
        using var http = new HttpDeliverer(deadLetter ? route with { DeadLetter = new DeadLetterSettings { Topic = "dlq" } } : route);

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(status == 401 ? DeliveryOutcome.BadStatus : DeliveryOutcome.RejectedBody, result.Outcome);
        var shown = (IEnumerable<string?>)[result.BodyExcerpt, result.Reason, result.Describe(), result.BodyStart is { } b ? Encoding.UTF8.GetString(b) : null];
        var forbidden = secrets.Concat(tokens).SelectMany(s => (string[])[s, System.Text.Json.JsonEncodedText.Encode(s).ToString()]).ToList();
        Assert.Contains("***", result.BodyExcerpt, StringComparison.Ordinal);
        Assert.Equal(deadLetter, result.BodyStart is not null);
        Assert.All(shown, text => Assert.All(forbidden, secret => Assert.DoesNotContain(secret, text ?? "", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task SecretCutByTheExcerptLimit_ItsStartMaskedToo_Issue23()
    {
        const string Token = "cut-token-0123456789abcdef";
        // The token starts 10 bytes before the excerpt's end.
        var body = new string('x', BodyExcerpt.MaxBytes - 10) + Token + new string('y', 100);
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync(body);
        });
        using var http = new HttpDeliverer(Route(endpoint.Port, new AuthSettings { Type = AuthType.Bearer, Token = Token }));

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(new string('x', BodyExcerpt.MaxBytes - 10) + "***", result.BodyExcerpt);
    }

    [Fact]
    public async Task OAuth2_TokenEndpointNeverAnswers_AuthErrorNamesTheTokenRequestNotTheEndpoint_Issue23()
    {
        await using var tokens = await ScriptedEndpoint.StartAsync(context => Task.Delay(Timeout.Infinite, context.RequestAborted));
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync("{\"errno\":0}"));
        var route = Route(endpoint.Port, OAuth(tokens.Port));
        using var http = new HttpDeliverer(route with { Endpoint = route.Endpoint with { ExecTimeoutMs = 500 } });

        var result = await http.SendAsync(Record, 0, 1);

        Assert.Equal(DeliveryOutcome.AuthError, result.Outcome);
        Assert.Equal($"token request to token_url http://127.0.0.1:{tokens.Port}/token had no answer within exec_timeout_ms=500", result.Reason);
        Assert.Equal($"auth_error, not sent to 127.0.0.1:{endpoint.Port}: {result.Reason}", result.Describe());
        Assert.Equal(0, endpoint.Requests);
    }

    // Standard Webhooks verification written from the specification, independently of kcp's signer.
    private static bool Verify(string secret, string id, string timestamp, byte[] body, string header)
    {
        var key = secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(secret["whsec_".Length..]) : Encoding.UTF8.GetBytes(secret);
        var expected = Convert.ToBase64String(HMACSHA256.HashData(key, (byte[])[.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body]));
        return header.Split(' ').Any(s => s.StartsWith("v1,", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s[3..]), Encoding.ASCII.GetBytes(expected)));
    }

    private static AuthSettings OAuth(int tokenPort) => new()
    {
        Type = AuthType.OAuth2ClientCredentials,
        TokenUrl = new Uri($"http://127.0.0.1:{tokenPort}/token"),
        ClientId = "kcp-client",
        ClientSecret = "s3cret-value",
        Scope = "orders.write",
    };

    private static RequestDelegate Recording(ConcurrentQueue<string> seen, Func<HttpContext, string> what) => async context =>
    {
        seen.Enqueue(what(context));
        await context.Response.WriteAsync("{\"errno\":0}");
    };

    private static RouteDefinition Route(int port, AuthSettings? auth)
    {
        var route = TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = port, ConnTimeoutMs = 5_000, ExecTimeoutMs = 5_000 } };
        return route with { Endpoint = route.Endpoint with { Auth = auth } };
    }
}
