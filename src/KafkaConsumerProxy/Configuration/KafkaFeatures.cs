using System.Runtime.InteropServices;
using KafkaConsumerProxy.Interop;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// What the librdkafka build kcp loads can do (its <c>builtin.features</c>), and the checks of <c>consumer_conf</c>
/// values that need a feature or name a file: <c>security.protocol: SASL_SSL</c> with a build without <c>ssl</c> is
/// refused at validation, naming the missing feature, instead of failing at the first connection.
/// </summary>
internal static class KafkaFeatures
{
    private const int ConfOk = 0;

    // librdkafka properties whose value is a file (or, for the CA, a directory of certificates).
    private static readonly string[] FileProperties = ["ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.keystore.location", "ssl.crl.location", "sasl.kerberos.keytab"];

    private static readonly Lazy<IReadOnlySet<string>?> Loaded = new(Read);

    /// <summary>The loaded build's <c>builtin.features</c>; null when the native library is not available here.</summary>
    public static IReadOnlySet<string>? Builtin => Loaded.Value;

    /// <summary>The feature a property value needs, or null.</summary>
    public static string? Needed(string property, string value) => (property.ToLowerInvariant(), value.ToUpperInvariant()) switch
    {
        ("security.protocol", "SSL" or "SASL_SSL") => "ssl",
        ("sasl.mechanism" or "sasl.mechanisms", "PLAIN") => "sasl_plain",
        ("sasl.mechanism" or "sasl.mechanisms", "SCRAM-SHA-256" or "SCRAM-SHA-512") => "sasl_scram",
        ("sasl.mechanism" or "sasl.mechanisms", "OAUTHBEARER") => "sasl_oauthbearer",
        ("sasl.mechanism" or "sasl.mechanisms", "GSSAPI") => "sasl_gssapi",
        _ => null,
    };

    /// <summary>Why <paramref name="property"/> = <paramref name="value"/> cannot work with this build or this file system, or null.</summary>
    public static string? Problem(string property, string value)
    {
        if (Needed(property, value) is { } feature && Builtin is { } features && !features.Contains(feature))
            return $"needs the librdkafka feature '{feature}', which the librdkafka kcp loads ({Librdkafka.LoadedLibraryPath}) was built without; its builtin.features: {string.Join(",", features.Order(StringComparer.Ordinal))}";
        if (FileProperties.Contains(property.ToLowerInvariant()) && value != "probe" && !File.Exists(value) && !(property.Equals("ssl.ca.location", StringComparison.OrdinalIgnoreCase) && Directory.Exists(value)))
            return $"{property}: the file {value} does not exist or cannot be seen by kcp";
        return null;
    }

    private static unsafe IReadOnlySet<string>? Read()
    {
        try
        {
            Librdkafka.EnsureLoaded();
        }
        catch (DllNotFoundException)
        {
            return null;
        }

        var conf = Librdkafka.rd_kafka_conf_new();
        try
        {
            var buffer = stackalloc byte[1024];
            nuint size = 1024;
            if (Librdkafka.rd_kafka_conf_get(conf, "builtin.features", buffer, &size) != ConfOk)
                return null;
            var text = Marshal.PtrToStringUTF8((nint)buffer) ?? "";
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        }
        finally
        {
            Librdkafka.rd_kafka_conf_destroy(conf);
        }
    }
}
