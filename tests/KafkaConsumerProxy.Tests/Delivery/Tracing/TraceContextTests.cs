using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using KafkaConsumerProxy.Delivery;
using KafkaConsumerProxy.Delivery.Tracing;
using Microsoft.AspNetCore.Http;

namespace KafkaConsumerProxy.Tests.Delivery.Tracing;

/// <summary>A record's trace context continued to the endpoint; the activity's messaging attributes.</summary>
public sealed class TraceContextTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string RecordParent = "00-" + TraceId + "-00f067aa0ba902b7-01";

    [Fact]
    public async Task RecordWithTraceparent_EndpointReceivesAChildOfTheSameTrace_Issue11()
    {
        var seen = new ConcurrentQueue<(string Parent, string State)>();
        await using var endpoint = await ScriptedEndpoint.StartAsync(async context =>
        {
            seen.Enqueue((context.Request.Headers["traceparent"].ToString(), context.Request.Headers["tracestate"].ToString()));
            await context.Response.WriteAsync("{\"errno\":0}");
        });
        using var http = new HttpDeliverer(TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = endpoint.Port } });
        var record = new KafkaRecord("orders", 2, 17, 0, null, "v"u8.ToArray(),
            [new KafkaHeader("traceparent", Encoding.ASCII.GetBytes(RecordParent)), new KafkaHeader("tracestate", "vendor=abc"u8.ToArray())]);

        Assert.True((await http.SendAsync(record, 0, 1)).IsSuccess);

        var (parent, state) = Assert.Single(seen);
        var parts = parent.Split('-');
        Assert.Equal(("00", TraceId), (parts[0], parts[1]));
        Assert.NotEqual("00f067aa0ba902b7", parts[2]);
        Assert.Equal("vendor=abc", state);
    }

    [Fact]
    public async Task Listener_ActivityOfTheSourceWithMessagingAttributes_Issue11()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == DeliveryTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => stopped.Enqueue(a),
        };
        ActivitySource.AddActivityListener(listener);
        var topic = "trace-" + Guid.NewGuid().ToString("N");
        await using var endpoint = await ScriptedEndpoint.StartAsync(context => context.Response.WriteAsync("{\"errno\":0}"));
        using var http = new HttpDeliverer(TestRoutes.Route() with { Endpoint = TestRoutes.Endpoint with { Port = endpoint.Port } });
        var record = new KafkaRecord(topic, 2, 17, 0, null, "v"u8.ToArray(), [new KafkaHeader("traceparent", Encoding.ASCII.GetBytes(RecordParent))]);

        Assert.True((await http.SendAsync(record, 0, 1)).IsSuccess);

        var activity = Assert.Single(stopped, a => a.GetTagItem("messaging.destination.name") as string == topic);
        Assert.Equal(TraceId, activity.TraceId.ToHexString());
        Assert.Equal("00f067aa0ba902b7", activity.ParentSpanId.ToHexString());
        Assert.Equal(("kafka", "2", 17L, "g", 200), (activity.GetTagItem("messaging.system"), activity.GetTagItem("messaging.destination.partition.id"),
            activity.GetTagItem("messaging.kafka.offset"), activity.GetTagItem("messaging.consumer.group.name"), activity.GetTagItem("http.response.status_code")));
    }
}
