using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using KafkaConsumerProxy.Interop;

namespace KafkaConsumerProxy.Embedded;

/// <summary>
/// An in-process Kafka cluster: librdkafka's mock cluster, reachable over real TCP sockets on
/// 127.0.0.1 by any Kafka client. Used by <c>kcp demo</c> and by the tests, together with fault
/// injection (brokers down, latency, protocol errors) that a real cluster cannot give on demand.
/// </summary>
/// <remarks>
/// The mock supports produce, fetch, consumer groups and offset commits, but not the admin
/// CreateTopics API: create topics with <see cref="CreateTopic"/>. Broker ids run from 1 to the
/// broker count. All methods are thread-safe (librdkafka serialises them onto the cluster thread).
/// </remarks>
public sealed class MockKafkaCluster : IDisposable
{
    private nint _rk;
    private nint _cluster;

    private MockKafkaCluster(nint rk, nint cluster, int brokerCount)
    {
        _rk = rk;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster returned no bootstrap servers.");
    }

    /// <summary>
    /// The native library file the mock cluster runs from, or <see langword="null"/> before the first
    /// <see cref="Start"/>; for diagnostics.
    /// </summary>
    public static string? LoadedLibraryPath => Librdkafka.LoadedLibraryPath;

    /// <summary>The <c>bootstrap.servers</c> value for clients, e.g. <c>127.0.0.1:41011,127.0.0.1:37281</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; their ids are 1 to <see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>
    /// Starts a mock cluster with <paramref name="brokers"/> brokers listening on ephemeral ports.
    /// </summary>
    /// <param name="brokers">Number of brokers, at least 1. Default 3, so leaders spread over brokers.</param>
    /// <remarks>
    /// The group initial rebalance delay is set to 0 (the mock's default is 3 s, like a real broker's
    /// <c>group.initial.rebalance.delay.ms</c>), so a consumer group forms as soon as its first member
    /// joins. Use <see cref="SetGroupInitialRebalanceDelay"/> to restore a delay.
    /// </remarks>
    /// <exception cref="DllNotFoundException">No loadable librdkafka was found.</exception>
    /// <exception cref="InvalidOperationException">librdkafka refused to create the handle or cluster.</exception>
    public static MockKafkaCluster Start(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        Librdkafka.EnsureLoaded();

        var conf = Librdkafka.rd_kafka_conf_new();
        nint rk;
        try
        {
            // The handle only hosts the cluster thread; level 0 keeps its stderr logging silent.
            SetConf(conf, "log_level", "0");
            rk = NewProducerHandle(conf);
        }
        catch
        {
            Librdkafka.rd_kafka_conf_destroy(conf);
            throw;
        }

        var cluster = NativeMethods.rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == 0)
        {
            NativeMethods.rd_kafka_destroy(rk);
            throw new InvalidOperationException($"rd_kafka_mock_cluster_new failed for {brokers} broker(s).");
        }

        NativeMethods.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
        return new MockKafkaCluster(rk, cluster, brokers);
    }

    /// <summary>Creates a topic; the mock has no CreateTopics API for clients to call.</summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="partitions">Partition count; leaders are spread round-robin over the brokers.</param>
    /// <param name="replicationFactor">Replicas per partition, at most the broker count.</param>
    /// <exception cref="KafkaException">librdkafka rejected the topic (e.g. it already exists).</exception>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        Check(NativeMethods.rd_kafka_mock_topic_create(Cluster, topic, partitions, replicationFactor),
            $"create topic '{topic}' ({partitions} partitions, replication factor {replicationFactor})");
    }

    /// <summary>
    /// Moves the leadership of one partition to <paramref name="brokerId"/> (creating the topic if
    /// needed), so a test knows which broker to take down. Clients learn it on their next metadata refresh.
    /// </summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        Check(NativeMethods.rd_kafka_mock_partition_set_leader(Cluster, topic, partition, brokerId),
            $"set leader of {topic}[{partition}] to broker {brokerId}");
    }

    /// <summary>
    /// Disconnects broker <paramref name="brokerId"/> (or all brokers for -1) and refuses new connections.
    /// Leadership does not move: requests for its partitions stall until <see cref="SetBrokerUp"/>.
    /// </summary>
    public void SetBrokerDown(int brokerId) =>
        Check(NativeMethods.rd_kafka_mock_broker_set_down(Cluster, brokerId), $"set broker {brokerId} down");

    /// <summary>Makes broker <paramref name="brokerId"/> (or all brokers for -1) accept connections again.</summary>
    public void SetBrokerUp(int brokerId) =>
        Check(NativeMethods.rd_kafka_mock_broker_set_up(Cluster, brokerId), $"set broker {brokerId} up");

    /// <summary>Delays every response of broker <paramref name="brokerId"/> (or all for -1) by <paramref name="rttMs"/> ms; 0 removes it.</summary>
    public void SetBrokerRtt(int brokerId, int rttMs) =>
        Check(NativeMethods.rd_kafka_mock_broker_set_rtt(Cluster, brokerId, rttMs), $"set broker {brokerId} RTT to {rttMs} ms");

    /// <summary>
    /// Makes the next <c>errors.Length</c> requests of type <paramref name="apiKey"/> (see
    /// <see cref="KafkaApiKey"/>), to any broker, fail with these errors, in order.
    /// </summary>
    /// <remarks>
    /// <see cref="ErrorCode.Local_Transport"/> makes the broker drop the connection instead. librdkafka
    /// retries some errors by itself (e.g. coordinator errors), so a client may never see those.
    /// </remarks>
    public unsafe void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Length == 0)
        {
            return;
        }

        // ErrorCode's values are rd_kafka_resp_err_t's, and that C enum is an int.
        var codes = Array.ConvertAll(errors, e => (int)e);
        fixed (int* p = codes)
        {
            NativeMethods.rd_kafka_mock_push_request_errors_array(Cluster, apiKey, (nuint)codes.Length, p);
        }
    }

    /// <summary>
    /// Makes the next <paramref name="count"/> requests of type <paramref name="apiKey"/> to broker
    /// <paramref name="brokerId"/> only fail with <paramref name="error"/>: with a group's coordinator pinned to that
    /// broker (<see cref="SetCoordinator"/>), errors reach that group and no other.
    /// </summary>
    public void PushBrokerRequestError(int brokerId, short apiKey, ErrorCode error, int count = 1)
    {
        for (var i = 0; i < count; i++)
        {
            Check(NativeMethods.rd_kafka_mock_broker_push_request_error_rtts(Cluster, brokerId, apiKey, 1, (int)error, 0),
                $"push error {error} for API key {apiKey} on broker {brokerId}");
        }
    }

    /// <summary>
    /// Makes metadata answer <paramref name="error"/> for <paramref name="topic"/> (for instance
    /// <see cref="ErrorCode.TopicAuthorizationFailed"/>); <see cref="ErrorCode.NoError"/> clears it.
    /// </summary>
    public void SetTopicError(string topic, ErrorCode error) =>
        NativeMethods.rd_kafka_mock_topic_set_error(Cluster, topic, (int)error);

    /// <summary>Drops the errors still queued by <see cref="PushRequestErrors"/> for <paramref name="apiKey"/>.</summary>
    public void ClearRequestErrors(short apiKey) => NativeMethods.rd_kafka_mock_clear_request_errors(Cluster, apiKey);

    /// <summary>
    /// Pins the coordinator for a consumer group or transactional id to <paramref name="brokerId"/>
    /// (which need not exist), instead of the mock's hash of the key.
    /// </summary>
    /// <param name="keyType"><c>"group"</c> or <c>"transaction"</c>.</param>
    /// <param name="key">The group.id or transactional.id.</param>
    /// <param name="brokerId">The coordinating broker.</param>
    public void SetCoordinator(string keyType, string key, int brokerId)
    {
        if (keyType is not ("group" or "transaction"))
        {
            throw new ArgumentException($"Key type must be \"group\" or \"transaction\", not \"{keyType}\".", nameof(keyType));
        }

        ArgumentException.ThrowIfNullOrEmpty(key);
        Check(NativeMethods.rd_kafka_mock_coordinator_set(Cluster, keyType, key, brokerId),
            $"set {keyType} coordinator for '{key}' to broker {brokerId}");
    }

    /// <summary>
    /// Sets how long a new consumer group waits for more members before its first rebalance;
    /// <see cref="Start"/> sets 0.
    /// </summary>
    public void SetGroupInitialRebalanceDelay(int delayMs) =>
        NativeMethods.rd_kafka_mock_group_initial_rebalance_delay_ms(Cluster, delayMs);

    /// <summary>Stops the brokers and frees the native handles; safe to call more than once.</summary>
    public void Dispose()
    {
        var cluster = Interlocked.Exchange(ref _cluster, 0);
        if (cluster == 0)
        {
            return;
        }

        // The cluster runs on the rk's thread, so it must go first.
        NativeMethods.rd_kafka_mock_cluster_destroy(cluster);
        NativeMethods.rd_kafka_destroy(Interlocked.Exchange(ref _rk, 0));
    }

    private nint Cluster
    {
        get
        {
            var cluster = Volatile.Read(ref _cluster);
            ObjectDisposedException.ThrowIf(cluster == 0, this);
            return cluster;
        }
    }

    private static void Check(int err, string action)
    {
        if (err != 0)
        {
            throw new KafkaException(new Error((ErrorCode)err, $"Mock cluster could not {action}: {(ErrorCode)err}."));
        }
    }

    private static unsafe void SetConf(nint conf, string name, string value)
    {
        var errstr = stackalloc byte[512];
        if (Librdkafka.rd_kafka_conf_set(conf, name, value, errstr, 512) != Librdkafka.RdKafkaConfOk)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set({name}={value}) failed: {ReadError(errstr)}");
        }
    }

    private static unsafe nint NewProducerHandle(nint conf)
    {
        var errstr = stackalloc byte[512];
        var rk = NativeMethods.rd_kafka_new(NativeMethods.RdKafkaProducer, conf, errstr, 512);
        return rk != 0 ? rk : throw new InvalidOperationException($"rd_kafka_new failed: {ReadError(errstr)}");
    }

    private static unsafe string ReadError(byte* errstr) =>
        Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(errstr));
}
