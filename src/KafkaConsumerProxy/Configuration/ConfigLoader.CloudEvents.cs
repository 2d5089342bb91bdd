namespace KafkaConsumerProxy.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The longest <c>cloudevents_type</c>: 1024 characters, far more than a reverse-DNS type name needs.</summary>
    private const int MaxCloudEventsTypeLength = 1024;

    /// <summary>
    /// <c>cloudevents_type</c> and the rules of <c>format: cloudevents</c>: the type is text that can be sent as the
    /// <c>ce-type</c> header (percent-encoded where the HTTP binding asks for it), and static <c>headers</c> must not
    /// set the <c>ce-*</c> headers that carry the event's attributes.
    /// </summary>
    private static RouteDefinition ReadCloudEventsKeys(MapReader r, RouteDefinition route)
    {
        var before = r.ErrorCount;
        var type = r.OptionalString("cloudevents_type");
        if (r.ErrorCount != before)
            return route;

        if (type is not null && route.Delivery.Format != RequestFormat.CloudEvents)
            r.Error("cloudevents_type", type, "applies only with format: cloudevents");
        else if (type is not null && CloudEventsTypeProblem(type) is { } problem)
            r.Error("cloudevents_type", type, problem);
        if (route.Delivery.Format == RequestFormat.CloudEvents)
        {
            if (Delivery.CloudEventMapping.SourceProblem(route.Cluster, route.Topic) is { } sourceProblem)
                r.Error("cluster", route.Cluster, sourceProblem);
            foreach (var header in route.Endpoint.Headers.Where(h => h.Key.StartsWith("ce-", StringComparison.OrdinalIgnoreCase)))
                r.Error($"headers.{header.Key}", null, "must not be set with format: cloudevents, whose ce-* headers carry the event's attributes");
        }

        return type is null ? route : route with { Delivery = route.Delivery with { CloudEventsType = type } };
    }

    // Why a CloudEvents type cannot be used as written, or null.
    private static string? CloudEventsTypeProblem(string type)
    {
        if (type.Length > MaxCloudEventsTypeLength)
            return $"must be at most {MaxCloudEventsTypeLength} characters";
        for (var i = 0; i < type.Length; i++)
        {
            var c = type[i];
            if (char.IsControl(c))
                return "must not contain control characters (line breaks, tabs and the like): it is sent as the ce-type header, e.g. com.example.order.created";
            if (char.IsHighSurrogate(c) && i + 1 < type.Length && char.IsLowSurrogate(type[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                return "must be valid Unicode text (it holds a lone surrogate)";
        }

        return char.IsWhiteSpace(type[0]) || char.IsWhiteSpace(type[^1]) ? "must not start or end with white space" : null;
    }
}
