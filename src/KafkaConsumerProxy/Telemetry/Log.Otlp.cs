using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>OTLP export of traces and metrics (<c>telemetry</c> in kcp.yaml): event ids 1920-1939.</summary>
internal static partial class Log
{
    [LoggerMessage(1920, LogLevel.Information, "OTLP export on: traces (source KafkaConsumerProxy) and metrics (meter KafkaConsumerProxy, .NET runtime) to {Endpoint} over {Protocol}, metrics every {IntervalMs} ms; service.name {ServiceName}, service.instance.id {InstanceId}")]
    public static partial void OtlpExportOn(ILogger logger, string endpoint, string protocol, int intervalMs, string serviceName, string instanceId);

    [LoggerMessage(1921, LogLevel.Warning, "OTLP export failed: {Reason}; deliveries are not affected, the telemetry of that export is dropped; further failures are counted and summarised every {IntervalSeconds:F0} s")]
    public static partial void OtlpExportFailed(ILogger logger, string reason, double intervalSeconds);

    [LoggerMessage(1922, LogLevel.Warning, "OTLP export failed {Count} more time(s) in the last {Seconds:F0} s; latest: {Reason}")]
    public static partial void OtlpExportFailedAgain(ILogger logger, long count, double seconds, string reason);

    [LoggerMessage(1923, LogLevel.Warning, "OTLP export: the final flush at stop did not finish within {Seconds:F0} s (collector slow or unreachable); the last spans and metrics may be lost")]
    public static partial void OtlpFlushIncomplete(ILogger logger, double seconds);

    [LoggerMessage(1924, LogLevel.Information, "OTLP export TLS: the collector's certificate must chain to {Trust}; client certificate {ClientCertificate}")]
    public static partial void OtlpTls(ILogger logger, string trust, string clientCertificate);
}
