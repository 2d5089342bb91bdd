using System.Diagnostics;
using System.Globalization;
using System.Text;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery.Tracing;

/// <summary>
/// W3C trace context for deliveries: every attempt is an <see cref="Activity"/> of the source <c>KafkaConsumerProxy</c>,
/// the child of the record's <c>traceparent</c>/<c>tracestate</c> headers when it has them, with OpenTelemetry messaging
/// attributes (system, destination, partition, offset, consumer group) and HTTP client attributes; the request carries
/// the attempt's <c>traceparent</c>. Without a listener an activity is still made for a record that carries a trace,
/// so the trace continues to the endpoint whether or not kcp itself exports spans.
/// </summary>
internal static class DeliveryTracing
{
    public const string SourceName = "KafkaConsumerProxy";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The attempt's activity, started and current; null when there is neither a listener nor a record trace.</summary>
    public static Activity? Start(RouteDefinition route, KafkaRecord first, int count, HttpRequestMessage request)
    {
        var parent = Header(first, "traceparent");
        if (parent is null && !Source.HasListeners())
        {
            // The common case, on every attempt: no trace to continue and nobody listening; nothing to allocate.
            return null;
        }

        var state = Header(first, "tracestate");
        ActivityContext.TryParse(parent, state, isRemote: true, out var context);
        var name = $"{first.Topic} process";
        var activity = Source.StartActivity(name, ActivityKind.Client, context);
        if (activity is null && context != default)
        {
            activity = new Activity(name);
            activity.SetIdFormat(ActivityIdFormat.W3C);
            activity.SetParentId(context.TraceId, context.SpanId, context.TraceFlags);
            activity.TraceStateString = context.TraceState;
            activity.Start();
        }

        if (activity is null)
            return null;
        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.type", "process");
        activity.SetTag("messaging.destination.name", first.Topic);
        activity.SetTag("messaging.destination.partition.id", first.Partition.ToString(CultureInfo.InvariantCulture));
        activity.SetTag("messaging.kafka.offset", first.Offset);
        activity.SetTag("messaging.consumer.group.name", route.Group);
        if (count > 1)
            activity.SetTag("messaging.batch.message_count", count);
        activity.SetTag("http.request.method", "POST");
        activity.SetTag("server.address", request.RequestUri?.Host);
        activity.SetTag("server.port", request.RequestUri?.Port);
        activity.SetTag("url.full", request.RequestUri?.GetLeftPart(UriPartial.Path));
        request.Headers.Remove("traceparent");
        request.Headers.Remove("tracestate");
        request.Headers.TryAddWithoutValidation("traceparent", activity.Id);
        if (activity.TraceStateString is { Length: > 0 } traceState)
            request.Headers.TryAddWithoutValidation("tracestate", traceState);
        return activity;
    }

    /// <summary>Records the outcome and stops the activity.</summary>
    public static void Stop(Activity? activity, DeliveryResult result)
    {
        if (activity is null)
            return;
        if (result.StatusCode is { } status)
            activity.SetTag("http.response.status_code", status);
        if (!result.IsSuccess)
        {
            activity.SetTag("error.type", result.Outcome.ToString());
            activity.SetStatus(ActivityStatusCode.Error, result.Outcome.ToString());
        }

        activity.Stop();
    }

    private static string? Header(KafkaRecord record, string name)
    {
        foreach (var header in record.Headers)
        {
            if (header.Name.Equals(name, StringComparison.OrdinalIgnoreCase) && header.Value is { Length: > 0 and < 1024 } value)
                return Encoding.ASCII.GetString(value);
        }

        return null;
    }
}
