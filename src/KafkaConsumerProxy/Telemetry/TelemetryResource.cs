using System.Reflection;
using OpenTelemetry.Resources;

namespace KafkaConsumerProxy.Telemetry;

/// <summary>
/// The OpenTelemetry resource of everything kcp exports (the admin endpoint's <c>/metrics</c>, where Prometheus sees it
/// as <c>target_info</c>, and OTLP traces, metrics and logs): <c>service.name</c> (<c>telemetry.service_name</c>,
/// default <c>kcp</c>), <c>service.version</c>, <c>service.instance.id</c> (a new UUID at every start of kcp, the same
/// for every exporter), <c>host.name</c> and <c>process.pid</c>.
/// </summary>
internal static class TelemetryResource
{
    /// <summary>The resource's <c>service.instance.id</c>: a new UUID for each start of kcp.</summary>
    public static string InstanceId { get; } = Guid.NewGuid().ToString();

    /// <summary>kcp's version (the assembly's informational version).</summary>
    public static string Version { get; } =
        typeof(TelemetryResource).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Adds kcp's resource attributes to <paramref name="builder"/>.</summary>
    public static ResourceBuilder Configure(ResourceBuilder builder, string serviceName) => builder
        .AddService(serviceName, serviceVersion: Version, autoGenerateServiceInstanceId: false, serviceInstanceId: InstanceId)
        .AddAttributes(
        [
            new("host.name", Environment.MachineName),
            new("process.pid", (long)Environment.ProcessId),
        ]);

    /// <summary>A new builder with kcp's resource.</summary>
    public static ResourceBuilder Create(string serviceName) => Configure(ResourceBuilder.CreateDefault(), serviceName);
}
