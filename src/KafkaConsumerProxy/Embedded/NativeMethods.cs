using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KafkaConsumerProxy.Interop;

namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// P/Invoke declarations for the librdkafka calls only the embedded cluster makes: a bare <c>rd_kafka_t</c> handle and
/// the mock cluster API (<c>rdkafka_mock.h</c>). The library is loaded and resolved by <see cref="Librdkafka"/>.
/// </summary>
internal static partial class NativeMethods
{
    private const string LibraryName = Librdkafka.LibraryName;

    internal const int RdKafkaProducer = 0;

    // Registers Librdkafka's resolver of LibraryName before the first call below (it loads nothing yet).
    static NativeMethods() => RuntimeHelpers.RunClassConstructor(typeof(Librdkafka).TypeHandle);

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
