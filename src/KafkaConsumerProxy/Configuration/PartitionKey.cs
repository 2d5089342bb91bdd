namespace KafkaConsumerProxy.Configuration;

/// <summary>Identifies one partition of one consumer group on one cluster.</summary>
internal readonly record struct PartitionKey(string Cluster, string Group, string Topic, int Partition)
{
    public override string ToString() => $"{Cluster}/{Group}/{Topic}/{Partition}";
}
