using System.Runtime.InteropServices;
using Confluent.Kafka;
using KafkaConsumerProxy.Interop;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Checks <c>consumer_conf</c> and <c>consumer_topic_conf</c> with librdkafka's own configuration code, without any
/// network: each property alone through <c>rd_kafka_conf_set</c> (unknown property, value of the wrong type or out of
/// range), then a route's whole consumer configuration by creating a consumer that has no bootstrap servers
/// (the checks between properties that librdkafka makes only when a client is created).
/// </summary>
internal static class LibrdkafkaCheck
{
    // Properties Confluent.Kafka consumes itself and never passes to librdkafka; checked by the whole-config check.
    private const string ClientPrefix = "dotnet.";
    private const int ErrorLength = 512;

    // The embedded cluster's loader knows the linux-x64 layout only; elsewhere the whole-config check through
    // Confluent.Kafka's own loader still reports an unknown or invalid property, for the route instead of the key.
    private static readonly Lazy<bool> NativeAvailable = new(() =>
    {
        try
        {
            Librdkafka.EnsureLoaded();
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    });

    /// <summary>librdkafka's reason for refusing <paramref name="property"/> = <paramref name="value"/>, or null.</summary>
    public static unsafe string? PropertyProblem(string property, string value)
    {
        if (property.StartsWith(ClientPrefix, StringComparison.Ordinal))
            return null;

        if (!NativeAvailable.Value)
            return null;
        if (KafkaFeatures.Problem(property, value) is { } unusable)
            return unusable;

        var conf = Librdkafka.rd_kafka_conf_new();
        try
        {
            var error = stackalloc byte[ErrorLength];
            error[0] = 0;

            // Some reasons end with a line break; an error is one line.
            return Librdkafka.rd_kafka_conf_set(conf, property, value, error, ErrorLength) == Librdkafka.RdKafkaConfOk
                ? null
                : Scrub((Marshal.PtrToStringUTF8((nint)error) ?? "rejected").TrimEnd(), property, value);
        }
        finally
        {
            Librdkafka.rd_kafka_conf_destroy(conf);
        }
    }

    /// <summary>
    /// librdkafka's (or Confluent.Kafka's) reason for refusing the complete consumer configuration
    /// <paramref name="config"/>, or null. Bootstrap servers are removed first, so the consumer never connects.
    /// </summary>
    public static string? ConsumerProblem(ConsumerConfig config)
    {
        var offline = new ConsumerConfig(config.Where(p => p.Key != "bootstrap.servers").ToDictionary(p => p.Key, p => p.Value));
        try
        {
            // The probe's own complaints (no brokers) are not the user's business.
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(offline)
                .SetLogHandler((_, _) => { })
                .SetErrorHandler((_, _) => { })
                .Build();
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KafkaException)
        {
            var reason = e.Message;
            foreach (var (key, value) in config)
            {
                if (!string.IsNullOrEmpty(value))
                    reason = Scrub(reason, key, value);
            }

            return reason;
        }
    }

    private static string Scrub(string reason, string property, string value) =>
        SecretRedactor.IsSecretKey(property) && value.Length > 0 ? reason.Replace(value, SecretRedactor.Mask, StringComparison.Ordinal) : reason;

}
