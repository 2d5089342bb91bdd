using System.Text.Json;
using System.Text.Json.Serialization;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Admin;

/// <summary>The JSON of the <c>/api/v1</c> routes API: snake_case names, enums as lower-case strings.</summary>
internal static class ControlJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions());

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.PropertyNameCaseInsensitive = true;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        options.WriteIndented = true;
        return options;
    }
}

/// <summary>The answer of <c>GET /api/v1/routes</c>.</summary>
internal sealed record RoutesListing(IReadOnlyList<RouteStatus> Routes, ReloadResult? LastReload, ReloadResult? LastRejectedReload);

/// <summary>The body of an error answer.</summary>
internal sealed record ControlError(string Error);
