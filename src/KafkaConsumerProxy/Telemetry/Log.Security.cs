using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>Log lines of endpoint security: TLS, authentication, secrets (event ids 1800-1899).</summary>
internal static partial class Log
{
    [LoggerMessage(1800, LogLevel.Warning, "Route {Route}: tls_insecure_skip_verify is true: the endpoint's certificate is not checked, so anyone on the path can read and change the requests")]
    public static partial void TlsVerificationDisabled(ILogger logger, string route);

    [LoggerMessage(1801, LogLevel.Warning, "Route {Route}: clusters.{Cluster}.schema_registry.tls_insecure_skip_verify is true: the registry's certificate is not checked, so anyone on the path can read the schemas and give the route others")]
    public static partial void RegistryTlsVerificationDisabled(ILogger logger, string route, string cluster);
}
