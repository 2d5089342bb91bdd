using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Delivery;

/// <summary>One skipped message, as written to <c>{state_dir}/skipped.jsonl</c>.</summary>
internal sealed record SkipRecord(
    DateTimeOffset Time,
    string Route,
    string Topic,
    int Partition,
    long Offset,
    byte[]? Key,
    int Attempts,
    string LastFailure,
    bool Manual)
{
    /// <summary>Why it was skipped (<c>kind</c>: auto, status, manual, seek, endpoint).</summary>
    public SkipKind Kind { get; init; } = Manual ? SkipKind.Manual : SkipKind.Auto;

    /// <summary>The HTTP status of the last answer (<c>status</c>); null when there was none (timeout, connection error).</summary>
    public int? Status { get; init; }

    /// <summary>Where the message was written in the dead-letter topic (<c>dead_letter</c>); null without one.</summary>
    public DeadLetterPosition? DeadLetter { get; init; }

    /// <summary>Who asked for a manual skip by the admin API or CLI (<c>by</c>); null for SIGUSR1 and automatic skips.</summary>
    public string? By { get; init; }

    /// <summary>For kind endpoint, the <c>Kcp-Action</c> that asked for the skip (<c>action</c>: skip or dead-letter); null otherwise.</summary>
    public string? Action { get; init; }
}

/// <summary>A message's place in the dead-letter topic: <c>{"topic", "partition", "offset"}</c> of the skip record.</summary>
internal sealed record DeadLetterPosition(string Topic, int Partition, long Offset);

/// <summary>
/// Appends skip records as JSON lines to <c>{state_dir}/skipped.jsonl</c>, one file that every kcp process sharing the
/// state directory appends to. Each line goes out in a single <c>write</c> on a descriptor opened with
/// <c>O_APPEND</c>, under an exclusive <c>flock</c> taken by every writer, and is flushed to disk before the skip
/// counts: so lines of several processes never interleave or overwrite each other, and a skipped message is never
/// committed without its record. A write that fails part-way (disk full) is cut back to the previous end of the file,
/// so no torn line stays behind; a file that ends without a newline (a crash of the machine mid-write) gets one before
/// the next record. While writing fails the record is retried every <see cref="RetryInterval"/> at most, each failure
/// logged at error (the first at once, then every 30 s), and <see cref="Write"/> does not return: the message is not
/// skipped, and its partition does not move, until its record is on disk. A state directory deleted while running is
/// noticed at the next record and created again. Keys are UTF-8 text when valid, else base64 with
/// <c>"key_encoding":"base64"</c>.
/// </summary>
internal sealed class SkipLog : IDisposable
{
    /// <summary>The longest wait between two attempts to write a record.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(30);

    private readonly string _stateDir;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _disposed = new();
    private AppendFile? _file;

    public SkipLog(string stateDir, ILogger? logger = null, TimeProvider? time = null)
    {
        _stateDir = stateDir;
        _logger = logger ?? NullLogger.Instance;
        // The system clock unless one is given: kcp passes its own everywhere; tests of other behaviour need no other.
        _time = time ?? TimeProvider.System;
        PrivateFile.CreateDirectory(stateDir);
        Path = System.IO.Path.Combine(stateDir, StateDirLayout.SkipLogFile);
        _file = AppendFile.Open(Path);
    }

    public string Path { get; }

    /// <summary>Test seam: called before each attempt to append, with the line; an exception it throws counts as a failed write.</summary>
    internal Action<byte[]>? BeforeAppend { get; set; }

    /// <summary>Told of each record once it is on disk: a range replay sorts its messages given up on by <see cref="SkipRecord.Kind"/>.</summary>
    internal Action<SkipRecord>? Written { get; init; }

    /// <summary>
    /// Appends <paramref name="record"/> and returns once it is on disk. Retries until then; throws
    /// <see cref="ObjectDisposedException"/> only when the log is closed (stopping) before the record could be written.
    /// </summary>
    public void Write(SkipRecord record)
    {
        var line = Serialize(record);
        var failures = 0;
        var wait = FirstRetry;
        var lastLog = 0L;
        lock (_lock)
        {
            while (true)
            {
                ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
                try
                {
                    BeforeAppend?.Invoke(line);
                    Append(line);
                    if (failures > 0)
                    {
                        Log.SkipRecordWritten(_logger, record.Topic, record.Partition, record.Offset, Path, failures);
                    }

                    Written?.Invoke(record);
                    return;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failures++;
                    if (failures == 1 || _time.GetElapsedTime(lastLog) >= FailureLogInterval)
                    {
                        lastLog = _time.GetTimestamp();
                        Log.SkipRecordWriteFailed(_logger, record.Topic, record.Partition, record.Offset, Path, ex.Message, failures);
                    }
                }

                try
                {
                    Task.Delay(wait, _time, _disposed.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    // Closed while waiting: checked at the top.
                }

                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, RetryInterval.Ticks));
            }
        }
    }

    private void Append(byte[] line)
    {
        if (_file is null || !_file.IsAtPath(Path))
        {
            var lost = _file is not null;
            _file?.Dispose();
            _file = null;
            PrivateFile.CreateDirectory(_stateDir);
            _file = AppendFile.Open(Path);
            if (lost)
            {
                Log.SkipLogRecreated(_logger, Path);
            }
        }

        _file.Append(line);
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
            // Built from the route's masked reason; masked again for what the process registered (a record is kept for good).
            json.WriteString("last_failure", Configuration.SecretRedactor.Hide(record.LastFailure));
            json.WriteBoolean("manual", record.Manual);
            json.WriteString("kind", record.Kind.ToString().ToLowerInvariant());
            if (record.Status is { } status)
            {
                json.WriteNumber("status", status);
            }

            if (record.DeadLetter is { } dlq)
            {
                json.WriteStartObject("dead_letter");
                json.WriteString("topic", dlq.Topic);
                json.WriteNumber("partition", dlq.Partition);
                json.WriteNumber("offset", dlq.Offset);
                json.WriteEndObject();
            }

            if (record.By is not null)
            {
                json.WriteString("by", record.By);
            }

            if (record.Action is not null)
            {
                json.WriteString("action", record.Action);
            }

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

    public void Dispose()
    {
        _disposed.Cancel();
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }

        _disposed.Dispose();
    }
}
