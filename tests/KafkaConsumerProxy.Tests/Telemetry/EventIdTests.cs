using System.Reflection;
using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Tests.Telemetry;

/// <summary>Every log event of kcp has its own id: operators alert and search by it (docs/OPERATIONS.md).</summary>
public sealed class EventIdTests
{
    [Fact]
    public void EveryLogEvent_HasAnIdOfItsOwn()
    {
        var events = typeof(Log).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(m => (Method: m.Name, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .ToList();

        Assert.True(events.Count > 100, $"only {events.Count} log events found");
        var shared = events.GroupBy(e => e.Attribute!.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Method))}").ToList();
        Assert.True(shared.Count == 0, "event ids used more than once: " + string.Join("; ", shared));
    }
}
