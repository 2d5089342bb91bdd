using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The dashboard at <c>/</c>: static HTML and JavaScript embedded in the kcp binary (no CDN, nothing fetched from
/// elsewhere), which reads and drives the <c>/api/v1</c> API of the same endpoint. Served with a Content-Security-Policy
/// that allows only the endpoint's own script and style files (no inline script or style, no frames, no forms), so
/// that the page writes what the API says as text only (<c>textContent</c>, SVG attributes).
/// </summary>
internal static class Dashboard
{
    private static readonly Assembly Self = typeof(Dashboard).Assembly;

    /// <summary>The page's policy; index.html carries the same in a meta element.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void Map(IEndpointRouteBuilder app, bool tokenRequired)
    {
        app.MapGet("/", () => File("index.html", "text/html; charset=utf-8"));
        app.MapGet("/dashboard/app.js", () => File("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/dashboard/app.css", () => File("app.css", "text/css; charset=utf-8"));
        app.MapGet("/dashboard/config.json", () => Results.Json(new { token_required = tokenRequired }, ControlJson.Options));
    }

    private static IResult File(string name, string type)
    {
        var stream = Self.GetManifestResourceStream("kcp.dashboard." + name);
        return stream is null ? Results.NotFound() : new Protected(Results.Stream(stream, type));
    }

    /// <summary>A file of the page, with its policy headers.</summary>
    private sealed class Protected(IResult file) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var headers = httpContext.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers.CacheControl = "no-store";
            return file.ExecuteAsync(httpContext);
        }
    }
}
