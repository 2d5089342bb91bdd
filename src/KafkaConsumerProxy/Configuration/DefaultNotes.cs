namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// What <c>kcp validate</c> notes under its OK line: defaults that a route relies on without saying so and that surprise
/// people whose endpoint was not written for kcp. Today one: <c>response_check: errno</c>, under which a 2xx answer
/// with an empty or plain-text body is retried forever.
/// </summary>
internal static class DefaultNotes
{
    /// <summary>The notes of <paramref name="route"/>, loaded from a file that passed validation; one line each.</summary>
    public static IEnumerable<string> Of(RouteDefinition route)
    {
        // The model holds the value, not whether it was written: the file tells that.
        var root = ConfigTree.Parse(route.SourceFile, []);
        if (root is null || root.Entries.Any(e => e.Key == EndpointSettings.ResponseCheckKey.Name))
            return [];
        return [$"{route.Name}: response_check errno (default): a 2xx must carry {{\"errno\":0}}; set response_check: status to accept any 2xx"];
    }
}
