using System.Text;
using System.Text.Json;

namespace KafkaConsumerProxy.Delivery;

/// <summary>One skipped message, as written to <c>{state_dir}/skipped.jsonl</c>.</summary>
public sealed record SkipRecord(
    DateTimeOffset Time,
    string Route,
    string Topic,
    int Partition,
    long Offset,
    byte[]? Key,
    int Attempts,
    string LastFailure,
    bool Manual);

/// <summary>
/// Appends skip records as JSON lines. Each line is flushed before the skip is committed, so a skipped
/// message is never committed without its record. Keys are UTF-8 text when valid, else base64 with
/// <c>"key_encoding":"base64"</c>.
/// </summary>
public sealed class SkipLog : IDisposable
{
    public const string FileName = "skipped.jsonl";

    private readonly FileStream _file;
    private readonly Lock _lock = new();

    public SkipLog(string stateDir)
    {
        Directory.CreateDirectory(stateDir);
        Path = System.IO.Path.Combine(stateDir, FileName);
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }

    public string Path { get; }

    public void Write(SkipRecord record)
    {
        var line = Serialize(record);
        lock (_lock)
        {
            _file.Write(line);
            _file.Flush(flushToDisk: true);
        }
    }

    internal static byte[] Serialize(SkipRecord record)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", record.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("route", record.Route);
            json.WriteString("topic", record.Topic);
            json.WriteNumber("partition", record.Partition);
            json.WriteNumber("offset", record.Offset);
            WriteBytes(json, "key", record.Key);
            json.WriteNumber("attempts", record.Attempts);
            json.WriteString("last_failure", record.LastFailure);
            json.WriteBoolean("manual", record.Manual);
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    internal static void WriteBytes(Utf8JsonWriter json, string name, byte[]? bytes)
    {
        if (bytes is null)
        {
            json.WriteNull(name);
        }
        else if (IsUtf8(bytes))
        {
            json.WriteString(name, Encoding.UTF8.GetString(bytes));
        }
        else
        {
            json.WriteString(name, Convert.ToBase64String(bytes));
            json.WriteString(name + "_encoding", "base64");
        }
    }

    internal static bool IsUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    public void Dispose() => _file.Dispose();
}
