using System.Text;

namespace KafkaConsumerProxy.Offsets;

/// <summary>
/// A partition's local record: every offset below <see cref="NextOffset"/> was delivered or skipped, on the cluster
/// whose id is <see cref="ClusterId"/>.
/// </summary>
/// <param name="ClusterId">
/// The id of the cluster the record was written for (from the cluster's metadata), in its stored form (see
/// <see cref="StoredClusterId"/>); null when unknown: a record written by a kcp before the id was stored, or while the
/// cluster did not tell its id.
/// </param>
internal readonly record struct LocalRecord(long NextOffset, DateTimeOffset Updated, string? ClusterId = null)
{
    /// <summary>Cluster ids up to this many UTF-8 bytes are stored as they are (Kafka's own are 22).</summary>
    public const int MaxStoredClusterIdBytes = 64;

    /// <summary>The last offset delivered or skipped.</summary>
    public long LastDone => NextOffset - 1;

    /// <summary>
    /// The form in which a cluster id is stored and compared: the id itself, or for an id longer than
    /// <see cref="MaxStoredClusterIdBytes"/> bytes a digest of it (<c>sha256:</c> and 56 hex digits). Null or empty: unknown.
    /// </summary>
    public static string? StoredClusterId(string? clusterId)
    {
        if (string.IsNullOrEmpty(clusterId))
        {
            return null;
        }

        if (Encoding.UTF8.GetByteCount(clusterId) <= MaxStoredClusterIdBytes)
        {
            return clusterId;
        }

        return "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(clusterId)))[..56];
    }
}
