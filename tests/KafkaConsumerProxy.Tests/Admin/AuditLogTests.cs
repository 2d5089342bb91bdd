using System.Text.Json;
using KafkaConsumerProxy.Admin;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>audit.jsonl's lines, with the time of the clock kcp is given.</summary>
public sealed class AuditLogTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("kcp-audit-").FullName;

    [Fact]
    public void Write_TimeIsTheInjectedClocksUtcTimeInMilliseconds_Issue16()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-04T05:06:07.089+02:00", System.Globalization.CultureInfo.InvariantCulture));
        var audit = new AuditLog(_stateDir, NullLogger.Instance, time);

        audit.Write("token holder", "POST", "/api/v1/routes/r/pause", 200);
        time.Advance(TimeSpan.FromMinutes(90));
        audit.WriteRefused("uid 0", "POST", "/api/v1/routes/r/stop", 403, count: 3, seconds: 30);

        var lines = File.ReadAllLines(audit.Path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal(["2026-03-04T03:06:07.089Z", "2026-03-04T04:36:07.089Z"], lines.Select(l => l.GetProperty("time").GetString()));
        Assert.Equal(["done", "refused"], lines.Select(l => l.GetProperty("result").GetString()));
    }

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);
}
