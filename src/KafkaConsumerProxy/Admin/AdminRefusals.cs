using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// Refused requests of the admin endpoint, counted instead of written one by one: per status and kind (read or change),
/// the first within 30 s is logged (event 1703) and, for a change, appended to the audit; the ones after it are counted
/// and written as one log line (event 2062) and one audit line (<c>count</c>, <c>within_seconds</c>, the latest request)
/// per 30 s, and at stop. So a client sending refused requests in a loop grows neither the log nor the audit.
/// </summary>
internal sealed class AdminRefusals : IDisposable
{
    private readonly AuditLog _audit;
    private readonly RepeatedLog<(int Status, bool Change), Refused> _repeats;
    private readonly ILogger _logger;

    public AdminRefusals(AuditLog audit, ILogger logger, TimeProvider time)
    {
        _audit = audit;
        _logger = logger;
        _repeats = new RepeatedLog<(int Status, bool Change), Refused>(time, RepeatedLog<(int, bool), Refused>.DefaultInterval, (key, summary) =>
        {
            var latest = summary.Latest;
            var seconds = (int)Math.Ceiling(summary.Since.TotalSeconds);
            Log.AdminRefusedSummary(_logger, summary.Count, seconds, latest.Method, LogText.Escape(latest.Path), latest.Who, key.Status, latest.Reason);
            if (key.Change)
            {
                _audit.WriteRefused(latest.Who, latest.Method, latest.Path, key.Status, summary.Count, seconds);
            }
        });
    }

    /// <summary>Counts a refused request, writing it now when it is the first of its kind within the interval.</summary>
    public void Add(HttpContext context, string who, int status, string reason)
    {
        var method = LogText.Escape(context.Request.Method, 16);
        var change = !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method);
        var refused = new Refused(who, method, AuditLog.Cut(context.Request.Path + context.Request.QueryString), reason);
        if (!_repeats.ShouldLog((status, change), refused))
        {
            return;
        }

        Log.AdminRefused(_logger, method, LogText.Escape(refused.Path), who, reason);
        if (change)
        {
            _audit.WriteRefused(who, method, refused.Path, status, 1, null);
        }
    }

    /// <summary>Writes what is still counted.</summary>
    public void Dispose() => _repeats.Dispose();

    private sealed record Refused(string Who, string Method, string Path, string Reason);
}
