using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Files;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// <c>{state_dir}/audit.jsonl</c>: one JSON line per state-changing request to the admin endpoint or the control socket
/// (time, who, method, path cut to <see cref="MaxPathChars"/>, HTTP status), each also logged; refused requests are
/// summarised by <see cref="AdminRefusals"/>; readable by kcp's user only (<see cref="PrivateFile"/>). A line that cannot be written is logged at error; the
/// request itself has been served.
/// </summary>
internal sealed class AuditLog(string stateDir, ILogger logger, TimeProvider time)
{
    public const string FileName = "audit.jsonl";

    private static readonly Lock Gate = new();

    public string Path { get; } = System.IO.Path.Combine(stateDir, FileName);

    /// <summary>The longest path (with query) written; a longer one is cut and ends with <c>… (N chars)</c>.</summary>
    public const int MaxPathChars = 512;

    /// <summary>Logs (event 1702) and appends one request that was served.</summary>
    public void Write(string who, string method, string path, int status)
    {
        path = Cut(path);
        Log.AdminAction(logger, who, method, LogText.Escape(path), status);
        Append(who, method, path, status, count: 1, seconds: null);
    }

    /// <summary>
    /// Appends refused requests without logging them (the caller logs, summarised): one line for <paramref name="count"/>
    /// requests within <paramref name="seconds"/>, showing the latest.
    /// </summary>
    public void WriteRefused(string who, string method, string path, int status, long count, int? seconds) =>
        Append(who, method, Cut(path), status, count, seconds);

    /// <summary><paramref name="path"/> with configured secrets hidden (a query string can carry anything), cut to <see cref="MaxPathChars"/>.</summary>
    public static string Cut(string path)
    {
        path = Configuration.SecretRedactor.Hide(path) ?? "";
        return path.Length <= MaxPathChars ? path : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path[..MaxPathChars]}… ({path.Length} chars)");
    }

    private void Append(string who, string method, string path, int status, long count, int? seconds)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("who", who);
            json.WriteString("method", method);
            json.WriteString("path", path);
            json.WriteNumber("status", status);
            json.WriteString("result", status is >= 200 and < 300 ? "done" : "refused");
            if (count != 1 || seconds is not null)
            {
                json.WriteNumber("count", count);
                json.WriteNumber("within_seconds", seconds ?? 0);
            }

            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        try
        {
            lock (Gate)
            {
                PrivateFile.CreateDirectory(stateDir);
                using var file = PrivateFile.OpenAppend(Path);
                file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.AuditWriteFailed(logger, Path, ex.Message);
        }
    }
}
