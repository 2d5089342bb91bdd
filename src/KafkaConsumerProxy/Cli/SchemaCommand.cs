using System.CommandLine;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// <c>kcp schema route|main</c>: prints the JSON Schema (draft 2020-12) of a route file or of kcp.yaml, made from the
/// declarations the loader uses (<see cref="ConfigSchema"/>), for editors and CI checks. The same files are in the
/// repository's <c>schemas/</c>.
/// </summary>
internal static class SchemaCommand
{
    public static Command Create()
    {
        var which = new Argument<string>("file") { Description = "route: the schema of a route file; main: the schema of kcp.yaml" };
        which.AcceptOnlyFromAmong("route", "main");
        var command = new Command("schema", "Print the JSON Schema of a route file or of kcp.yaml (for editors: see docs/CONFIGURATION.md)") { which };
        command.SetAction(parse =>
        {
            Console.Out.Write(parse.GetValue(which) == "route" ? ConfigSchema.Route() : ConfigSchema.MainFile());
            return 0;
        });
        return command;
    }
}
