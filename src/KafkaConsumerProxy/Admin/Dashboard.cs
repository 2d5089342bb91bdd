using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// The dashboard at <c>/</c>: static HTML and JavaScript embedded in the kcp binary (no CDN, nothing fetched from
/// elsewhere), which reads and drives the <c>/api/v1</c> API of the same endpoint.
/// </summary>
internal static class Dashboard
{
    private static readonly Assembly Self = typeof(Dashboard).Assembly;

    public static void Map(IEndpointRouteBuilder app, bool tokenRequired)
    {
        app.MapGet("/", () => File("index.html", "text/html; charset=utf-8"));
        app.MapGet("/dashboard/app.js", () => File("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/dashboard/config.json", () => Results.Json(new { token_required = tokenRequired }, ControlJson.Options));
    }

    private static IResult File(string name, string type)
    {
        var stream = Self.GetManifestResourceStream("kcp.dashboard." + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, type);
    }
}
