using System.Text;
using System.Text.Json;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// <c>{state_dir}/audit.jsonl</c>: one JSON line per state-changing request to the admin endpoint or the control socket
/// (time, who, method, path, HTTP status), each also logged; readable by kcp's user only (<see cref="PrivateFile"/>). A line that cannot be written is logged at error; the
/// request itself has been served.
/// </summary>
internal sealed class AuditLog(string stateDir, ILogger logger)
{
    public const string FileName = "audit.jsonl";

    private static readonly Lock Gate = new();

    public string Path { get; } = System.IO.Path.Combine(stateDir, FileName);

    public void Write(string who, string method, string path, int status)
    {
        // A query string can carry anything, a configured secret too.
        path = Configuration.SecretRedactor.Hide(path);
        Log.AdminAction(logger, who, method, LogText.Escape(path), status);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("who", who);
            json.WriteString("method", method);
            json.WriteString("path", path);
            json.WriteNumber("status", status);
            json.WriteString("result", status is >= 200 and < 300 ? "done" : "refused");
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
