namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The CloudEvents <c>source</c> of a route's messages, <c>kafka://{cluster}/{topic}</c>. The loader accepts
/// <c>format: cloudevents</c> only with a cluster name that is a valid URI host here (<see cref="Problem"/>); topic
/// names are URI-safe characters only.
/// </summary>
internal static class CloudEventSource
{
    /// <summary><c>kafka://{cluster}/{topic}</c>.</summary>
    public static string Of(string cluster, string topic) => string.Concat("kafka://", cluster, "/", topic);

    /// <summary>Why <paramref name="cluster"/> cannot be the host of <see cref="Of"/>, or null.</summary>
    public static string? Problem(string cluster, string topic) =>
        cluster.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')
        && Uri.TryCreate(Of(cluster, topic), UriKind.Absolute, out var uri) && uri.Host.Equals(cluster, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"is the host of the CloudEvents source kafka://{cluster}/{topic} with format: cloudevents, so it must be a host name: letters, digits, '-', '.' and '_'";
}
