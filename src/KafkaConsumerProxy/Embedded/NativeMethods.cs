using System.Reflection;
using System.Runtime.InteropServices;

namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka that Confluent.Kafka does not wrap: a bare
/// <c>rd_kafka_t</c> handle and the mock cluster API (<c>rdkafka_mock.h</c>).
/// </summary>
/// <remarks>
/// The library name is private to this class and resolved by <see cref="Resolve"/>, because the
/// default probe finds <c>librdkafka.so</c> first and that build needs <c>libsasl2.so.3</c>,
/// which Debian 12 does not ship. Confluent.Kafka falls back to <c>centos8-librdkafka.so</c> in
/// that case and so do we, which keeps both sides on the same native image.
/// </remarks>
internal static partial class NativeMethods
{
    private const string LibraryName = "kcp-embedded-librdkafka";

    internal const int RdKafkaProducer = 0;
    internal const int RdKafkaConfOk = 0;

    private static readonly Lock LoadLock = new();
    private static nint s_handle;

    static NativeMethods()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);
    }

    /// <summary>Full path (or plain name) of the library that was loaded, once one has been.</summary>
    internal static string? LoadedLibraryPath { get; private set; }

    /// <summary>Loads the native library now, so a missing dependency surfaces as one clear exception.</summary>
    internal static void EnsureLoaded() => Load();

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == LibraryName ? Load() : 0;

    private static nint Load()
    {
        lock (LoadLock)
        {
            if (s_handle != 0)
            {
                return s_handle;
            }

            // A framework-dependent build keeps the native libraries under runtimes/; a self-contained
            // (-r linux-x64) publish puts them next to the executable.
            var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
            string[] candidates =
            [
                Path.Combine(native, "librdkafka.so"),
                Path.Combine(native, "centos8-librdkafka.so"),
                Path.Combine(AppContext.BaseDirectory, "librdkafka.so"),
                Path.Combine(AppContext.BaseDirectory, "centos8-librdkafka.so"),
                "librdkafka",
            ];
            foreach (var candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out var handle))
                {
                    s_handle = handle;
                    LoadedLibraryPath = candidate;
                    return handle;
                }
            }

            throw new DllNotFoundException(
                "Could not load librdkafka for the embedded Kafka cluster. Tried: "
                + string.Join(", ", candidates)
                + ". If librdkafka.so is present but fails to load, it is probably missing libsasl2.so.3: "
                + "install it with 'apt-get install libsasl2-2'.");
        }
    }

    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_conf_new();

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_conf_destroy(nint conf);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    /// <remarks>Takes ownership of <paramref name="conf"/> only when it returns a handle.</remarks>
    [LibraryImport(LibraryName)]
    internal static unsafe partial nint rd_kafka_new(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(nint mcluster);

    /// <remarks>Returns a string owned by the cluster: copy it, never free it.</remarks>
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(nint mcluster, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(nint mcluster, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_rtt(nint mcluster, int brokerId, int rttMs);

    [LibraryImport(LibraryName)]
    internal static unsafe partial void rd_kafka_mock_push_request_errors_array(nint mcluster, short apiKey, nuint count, int* errors);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_clear_request_errors(nint mcluster, short apiKey);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_coordinator_set(nint mcluster, string keyType, string key, int brokerId);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint mcluster, int delayMs);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(nint mcluster, string topic, int partition, int brokerId);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_topic_set_error(nint mcluster, string topic, int err);

    // Variadic in C (cnt pairs of rd_kafka_resp_err_t, int rtt); called with one pair. On x86-64 and arm64 Linux the
    // integer arguments of a variadic call are passed as for a fixed one.
    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_push_request_error_rtts(nint mcluster, int brokerId, short apiKey, nuint count, int err, int rttMs);
}
