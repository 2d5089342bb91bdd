using Confluent.Kafka;
using Confluent.Kafka.Admin;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Fleet;

/// <summary>
/// The control topic of one cluster: created (compacted, one partition) when missing, written to partition 0 so that
/// the topic's order is one total order, and read from the beginning of every partition by a consumer without a group
/// (each instance reads all of it). <see cref="Unavailable"/> names why it cannot be used now (created, written or
/// read); the caller then answers 503 and keeps running its routes with the operator's state in routes.json.
/// </summary>
internal sealed class ControlTopic : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);

    private readonly string _cluster;
    private readonly string _topic;
    private readonly ClientConfig _client;
    private readonly Action<ConsumeResult<string?, byte[]?>> _onRecord;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _partitions = int.MaxValue;
    private readonly HashSet<int> _atEnd = [];
    private IProducer<string, byte[]?>? _producer;
    private Thread? _reader;
    private string? _startError;
    private string? _writeError;
    private string? _readError;

    /// <param name="onRecord">Called on the reader's thread for every record, in the topic's order.</param>
    public ControlTopic(ClusterDefinition cluster, string topic, Action<ConsumeResult<string?, byte[]?>> onRecord, ILogger logger)
    {
        _cluster = cluster.Name;
        _topic = topic;
        _onRecord = onRecord;
        _logger = logger;
        _client = new ClientConfig { BootstrapServers = cluster.BootstrapServers };
        foreach (var (key, value) in cluster.ConsumerConf)
            _client.Set(key, value);
    }

    /// <summary>The topic and cluster, for messages.</summary>
    public string Name => $"control topic {_topic} on cluster {_cluster}";

    /// <summary>Why the topic cannot be used now; null when it can.</summary>
    public string? Unavailable
    {
        get
        {
            lock (_gate)
                return _startError ?? _writeError ?? _readError;
        }
    }

    /// <summary>Every record there was when reading started has been read.</summary>
    public Task CaughtUp => _caughtUp.Task;

    /// <summary>The last <see cref="Start"/> failed (no producer or no reader): the next heartbeat starts it again.</summary>
    public bool StartFailed
    {
        get
        {
            lock (_gate)
                return _startError is not null;
        }
    }

    /// <summary>Creates the topic when missing and starts reading it; never throws (see <see cref="Unavailable"/>).</summary>
    public void Start()
    {
        _producer?.Dispose();
        _producer = null;
        _reader?.Join(TimeSpan.FromSeconds(5));
        try
        {
            using (var admin = new AdminClientBuilder(new AdminClientConfig(_client)).SetLogHandler((_, _) => { }).Build())
                Create(admin);
            _producer = new ProducerBuilder<string, byte[]?>(new ProducerConfig(_client) { Acks = Acks.All, LingerMs = 0, MessageTimeoutMs = (int)RequestTimeout.TotalMilliseconds })
                .SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        }
        catch (Exception ex) when (ex is KafkaException or InvalidOperationException or ArgumentException)
        {
            Failed(ref _startError, ex.Message);
            _caughtUp.TrySetResult();
            return;
        }

        Recovered(ref _startError);
        _reader = new Thread(Read) { IsBackground = true, Name = "kcp-fleet-" + _cluster };
        _reader.Start();
    }

    /// <summary>Writes one record (a null value deletes the key); returns its offset. Throws <see cref="FleetUnavailableException"/>.</summary>
    public async Task<long> WriteAsync(string key, byte[]? value)
    {
        if (_producer is null)
            throw new FleetUnavailableException($"{Name} cannot be used: {Unavailable}");
        try
        {
            var done = await _producer.ProduceAsync(new TopicPartition(_topic, 0), new Message<string, byte[]?> { Key = key, Value = value }).ConfigureAwait(false);
            Recovered(ref _writeError);
            return done.Offset.Value;
        }
        catch (ProduceException<string, byte[]?> ex)
        {
            Failed(ref _writeError, ex.Error.Reason);
            throw new FleetUnavailableException($"{Name} cannot be written: {ex.Error.Reason} ({ex.Error.Code})");
        }
        catch (KafkaException ex)
        {
            Failed(ref _writeError, ex.Error.Reason);
            throw new FleetUnavailableException($"{Name} cannot be written: {ex.Error.Reason} ({ex.Error.Code})");
        }
    }

    private void Create(IAdminClient admin)
    {
        var metadata = admin.GetMetadata(RequestTimeout);
        if (metadata.Topics.Find(t => t.Topic == _topic) is { Error.IsError: false })
            return;
        try
        {
            var spec = new TopicSpecification
            {
                Name = _topic,
                NumPartitions = 1,
                ReplicationFactor = (short)Math.Min(3, Math.Max(1, metadata.Brokers.Count)),
                Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" },
            };
            admin.CreateTopicsAsync([spec], new CreateTopicsOptions { RequestTimeout = CreateTimeout }).GetAwaiter().GetResult();
            Log.FleetTopicCreated(_logger, _topic, _cluster);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
        {
            // Another instance created it meanwhile.
        }
        catch (KafkaException ex) when (ex is not CreateTopicsException)
        {
            // No answer to CreateTopics (librdkafka's mock cluster has no controller): the broker may still create it
            // at the first write (auto.create.topics.enable), though not compacted.
            Log.FleetTopicNotCreated(_logger, _topic, _cluster, ex.Message);
        }
    }

    private void Read()
    {
        var settings = new ConsumerConfig(_client)
        {
            // Never subscribes, never commits: the group is only a name the client needs.
            GroupId = "kcp-control-reader",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AllowAutoCreateTopics = false,
        };
        try
        {
            using var consumer = new ConsumerBuilder<string?, byte[]?>(settings)
                .SetLogHandler((_, _) => { })
                .SetErrorHandler((_, e) => FailedReading(e.Reason))
                .Build();
            using (var admin = new DependentAdminClientBuilder(consumer.Handle).Build())
            {
                var metadata = admin.GetMetadata(_topic, RequestTimeout).Topics.Single();
                if (metadata.Error.IsError)
                    FailedReading($"{metadata.Error.Reason} ({metadata.Error.Code})");
                var partitions = metadata.Partitions.Select(p => p.PartitionId).ToList();
                if (partitions.Count == 0)
                    partitions.Add(0);
                consumer.Assign(partitions.Select(p => new TopicPartitionOffset(_topic, p, Offset.Beginning)));
                lock (_gate)
                    _partitions = partitions.Count;
            }

            while (!_stop.IsCancellationRequested)
                Poll(consumer);
            consumer.Close();
        }
        catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
        {
            Failed(ref _startError, ex.Message);
            _caughtUp.TrySetResult();
        }
    }

    private void Poll(IConsumer<string?, byte[]?> consumer)
    {
        ConsumeResult<string?, byte[]?>? result;
        try
        {
            result = consumer.Consume(PollTimeout);
        }
        catch (ConsumeException ex)
        {
            FailedReading(ex.Error.Reason);
            return;
        }

        if (result is null)
            return;
        if (!result.IsPartitionEOF)
        {
#pragma warning disable CA1031 // One record that cannot be applied must not stop the reading of the others.
            try
            {
                _onRecord(result);
            }
            catch (Exception ex)
            {
                Log.FleetRecordIgnored(_logger, _topic, result.Partition.Value, result.Offset.Value, "cannot be applied: " + ex.Message.ReplaceLineEndings(" "));
            }
#pragma warning restore CA1031
        }

        Recovered(ref _readError);
        lock (_gate)
        {
            if (result.IsPartitionEOF)
                _atEnd.Add(result.Partition.Value);
            if (_atEnd.Count >= _partitions)
                _caughtUp.TrySetResult();
        }
    }

    // Reading cannot reach the end now: the start goes on with routes.json rather than wait (what is read later still applies).
    private void FailedReading(string reason)
    {
        Failed(ref _readError, reason);
        _caughtUp.TrySetResult();
    }

    private void Failed(ref string? field, string reason)
    {
        bool first;
        lock (_gate)
        {
            first = field is null && _startError is null && _writeError is null && _readError is null;
            field = reason;
        }

        if (first)
            Log.FleetTopicUnavailable(_logger, _topic, _cluster, reason);
    }

    private void Recovered(ref string? field)
    {
        bool back;
        lock (_gate)
        {
            if (field is null)
                return;
            field = null;
            back = _startError is null && _writeError is null && _readError is null;
        }

        if (back)
            Log.FleetTopicAvailable(_logger, _topic, _cluster);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _reader?.Join(TimeSpan.FromSeconds(5));
        _producer?.Flush(TimeSpan.FromSeconds(2));
        _producer?.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The control topic cannot be used now; the message names the topic, the cluster and why. Answered with 503.</summary>
internal sealed class FleetUnavailableException(string message) : Exception(message);
