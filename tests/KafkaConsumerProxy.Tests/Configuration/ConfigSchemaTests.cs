using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Configuration;

/// <summary>
/// The JSON Schemas of <c>kcp schema route|main</c> (<see cref="ConfigSchema"/>) against the docs' examples and against
/// the loader: every route and kcp.yaml example of README.md and docs/*.md is valid; what the schema refuses the loader
/// refuses too; and what the schema accepts the loader accepts, but for the rules only the loader can check
/// (<see cref="LoaderOnly"/>). Examples are read as an editor reads them (<see cref="YamlJson"/>) and validated with
/// JsonSchema.Net.
/// </summary>
public sealed class ConfigSchemaTests
{
    private static readonly JsonSchema RouteSchema = JsonSchema.FromText(ConfigSchema.Route());
    private static readonly JsonSchema MainSchema = JsonSchema.FromText(ConfigSchema.MainFile());

    /// <summary>
    /// Errors the loader gives for values the schema accepts, and why the schema cannot see them: every one of them
    /// needs another key's value, another file, or the machine. docs/CONFIGURATION.md ("JSON Schema") lists the same.
    /// </summary>
    private static readonly (Regex Message, string Why)[] LoaderOnly =
    [
        (new("^applies only with "), "a key that has no effect with another key's value (ordering without async_concurrency, content_type without format: raw, ...)"),
        (new("^(must not be less than|is over the default) "), "retry_max_interval_ms against retry_interval_ms"),
        (new("^(needs response_expression|is read only with response_check)"), "response_expression against response_check"),
        (new("^must (be 1 unless format|not exceed max_pending)"), "batch_size against format and max_pending"),
        (new("^(unknown (cluster|shared budget)|needs a schema registry)"), "a name or section defined in the other file"),
        (new(@"^refers to the (environment variable|file) .*\$\{(env|file):"), "a secret reference, resolved when the file is loaded"),
        (new("^(token file not found|cannot read|.*does not exist|.*no such file|.*not found)", RegexOptions.IgnoreCase), "a file named by the configuration, read when it is loaded"),
    ];

    private static readonly string MainFileDefaults = """{"clusters": {"default": {"bootstrap_servers": "127.0.0.1:9092"}}}""";

    public enum FileKind
    {
        Main,
        Route,
    }

    [Fact]
    public void DocExamples_EveryRouteAndMainFileExample_ValidAgainstTheSchema_Issue19()
    {
        var examples = Examples();

        var failures = examples.Select(e => (e.Block, Result: Evaluate(e.Kind, e.Json))).Where(r => !r.Result.IsValid)
            .Select(r => $"{r.Block}: {Describe(r.Result)}").ToList();

        Assert.Empty(failures);
        Assert.True(examples.Count(e => e.Kind == FileKind.Route) >= 3 && examples.Count(e => e.Kind == FileKind.Main) >= 6, $"only {examples.Count} examples found");
    }

    [Fact]
    public void DocExamples_AcceptedByTheSchema_LoadedByTheLoader_Issue19()
    {
        var unexpected = new List<string>();
        foreach (var (block, kind, json) in Examples())
        {
            foreach (var error in LoadErrors(kind, json).Where(e => !IsLoaderOnly(e)))
                unexpected.Add($"{block}: {ConfigDirectory.Describe(error)}");
        }

        Assert.True(unexpected.Count == 0, string.Join("\n", unexpected));
    }

    public static TheoryData<FileKind, string> Refused => new()
    {
        // Wrong types.
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nconcurrency: many\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\ncan_skip: maybe\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nskip_on_status: 404\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nconsumer_conf: [a, b]\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: {url: /x}\n" },
        { FileKind.Route, "topic: [a]\ngroup: g\nendpoint: http://127.0.0.1:8080/\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nshutdown_timeout_ms: soon\n" },
        { FileKind.Main, "clusters:\n  default: 127.0.0.1:9092\n" },
        // Unknown keys, at every level.
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nretry_num: 3\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nauth: {type: bearer, token: abcdefgh, extra: 1}\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nroute_dir: routes\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\n    consumer: {}\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nadmin:\n  listn: 127.0.0.1:0\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nfleet:\n  heartbeat: 100\n" },
        // Out of range, or not one of the choices.
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nconcurrency: 0\n" },
        { FileKind.Route, "topic: t\ngroup: g\nhost: 127.0.0.1\nport: 70000\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nskip_on_status: [404, 99]\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nformat: jsn\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nmax_pending_bytes: 10\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nshutdown_timeout_ms: 10\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nlogging:\n  level: verbose\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nlimits:\n  api:\n    max_concurrency: 0\n" },
        // Required keys and the exclusions the schema states.
        { FileKind.Route, "group: g\nendpoint: http://127.0.0.1:8080/\n" },
        { FileKind.Route, "topic: t\ngroup: g\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nhost: 127.0.0.1\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nport: 8080\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: ftp://127.0.0.1/\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nauth: {type: basic, username: kcp}\n" },
        { FileKind.Route, "topic: t\ngroup: g\nendpoint: http://127.0.0.1:8080/\nauth: {type: bearer, token: abcdefgh, username: kcp}\n" },
        { FileKind.Main, "routes_dir: routes\n" },
        { FileKind.Main, "clusters: {}\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\nlimits:\n  api: {}\n" },
        { FileKind.Main, "clusters:\n  default:\n    bootstrap_servers: 127.0.0.1:9092\ntelemetry:\n  service_name: kcp\n" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Schema_WrongTypeUnknownKeyOutOfRangeOrExcluded_RefusedByTheSchemaAndByTheLoader_Issue19(FileKind kind, string yaml)
    {
        var json = YamlJson.Parse(yaml)!.AsObject();

        Assert.False(Evaluate(kind, json).IsValid, "the schema accepts it");
        Assert.NotEmpty(LoadErrors(kind, json));
    }

    public static TheoryData<string, string, bool> DeclaredValues()
    {
        // Every declared key at its default, at both ends of its range, just outside them, and every choice and a
        // misspelt one: whether the schema and the loader take it.
        var data = new TheoryData<string, string, bool>();
        foreach (var key in RouteKeys.All)
        {
            var values = new List<(string, bool)>();
            if (key.Default is { } d)
                values.Add((Yaml(d), true));
            if (key.Kind is RouteKeyKind.Integer)
            {
                values.Add((Yaml(key.Min), true));
                values.Add((Yaml(key.Max), true));
                if (key.Min > int.MinValue)
                    values.Add((Yaml(key.Min - 1L), false));
                if (key.Max < int.MaxValue)
                    values.Add((Yaml(key.Max + 1L), false));
                values.Add(("\"12a\"", false));
            }

            if (key.Kind is RouteKeyKind.IntegerList)
                values.AddRange([($"[{key.Min}, {key.Max}]", true), ($"[{key.Min - 1}]", false), ($"[{key.Max + 1}]", false)]);
            if (key.Kind is RouteKeyKind.Choice)
                values.AddRange([.. key.Choices.Select(c => (c, true)), (key.Choices[0] + "x", false)]);
            if (key.Kind is RouteKeyKind.Boolean)
                values.AddRange([("true", true), ("false", true), ("yes please", false)]);
            if (key.Kind is RouteKeyKind.String && !key.Required)
                values.Add(("[a]", false));
            foreach (var (value, valid) in values.Distinct())
                data.Add(key.Name, value, valid);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DeclaredValues))]
    public void RouteKey_DeclaredValue_SchemaAndLoaderAgree_Issue19(string key, string value, bool valid)
    {
        // The endpoint's parts go with host; every other key with endpoint.
        var form = key == EndpointSettings.HostKey.Name ? "" : EndpointSettings.PartsOfEndpoint.Any(k => k.Name == key) ? "host: 127.0.0.1\n" : "endpoint: http://127.0.0.1:8080/\n";
        var json = YamlJson.Parse($"topic: t\ngroup: g\n{form}{key}: {value}\n")!.AsObject();

        var result = Evaluate(FileKind.Route, json);
        var errors = LoadErrors(FileKind.Route, json);

        Assert.True(valid == result.IsValid, $"{key}: {value}: schema {(result.IsValid ? "accepts" : "refuses: " + Describe(result))}");
        if (valid)
            Assert.Empty(errors.Where(e => !IsLoaderOnly(e)).Select(ConfigDirectory.Describe));
        else
            Assert.NotEmpty(errors);
    }

    [Fact]
    public void MainFileKeys_EveryIntegerAndChoice_SchemaAndLoaderAgreeAtTheBounds_Issue19()
    {
        var disagreements = new List<string>();
        foreach (var (section, key, value, valid) in MainFileValues())
        {
            var json = JsonNode.Parse(MainFileDefaults)!.AsObject();
            JsonNode node = JsonValue.Create(value)!;
            if (section is null)
            {
                json[key.Name] = node;
            }
            else
            {
                var entry = new JsonObject { [key.Name] = node };
                if (section == MainFileKeys.Telemetry && key.Name != "otlp_endpoint")
                    entry["otlp_endpoint"] = "http://127.0.0.1:4318";
                if (section == MainFileKeys.Clusters)
                    entry["bootstrap_servers"] ??= "127.0.0.1:9092";
                json[section.Name] = MainFileKeys.Sections[section.Name].PerName ? new JsonObject { ["default"] = entry } : entry;
            }

            var schemaValid = Evaluate(FileKind.Main, json).IsValid;
            var loaderValid = !LoadErrors(FileKind.Main, json).Any(e => !IsLoaderOnly(e));
            if (schemaValid != valid || loaderValid != valid)
                disagreements.Add($"{section?.Name}.{key.Name}: {value}: expected {(valid ? "valid" : "invalid")}, schema {schemaValid}, loader {loaderValid}");
        }

        Assert.Empty(disagreements);
    }

    [Theory]
    [InlineData("route.schema.json")]
    [InlineData("kcp.schema.json")]
    public void SchemasFolder_FileIsWhatKcpSchemaPrints_Issue19(string file)
    {
        var shipped = File.ReadAllText(Path.Combine(DocExamples.RepositoryRoot(), "schemas", file));
        var generated = file == "route.schema.json" ? ConfigSchema.Route() : ConfigSchema.MainFile();

        // Regenerate with: kcp schema route > schemas/route.schema.json; kcp schema main > schemas/kcp.schema.json
        Assert.Equal(generated, shipped);
    }

    [Fact]
    public void Schemas_DeclareDraft202012_AndRefuseUnknownKeys()
    {
        foreach (var text in new[] { ConfigSchema.Route(), ConfigSchema.MainFile() })
        {
            using var schema = JsonDocument.Parse(text);
            Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema.RootElement.GetProperty("$schema").GetString());
            Assert.False(schema.RootElement.GetProperty("additionalProperties").GetBoolean());
        }
    }

    private static IEnumerable<(RouteKey? Section, RouteKey Key, object Value, bool Valid)> MainFileValues()
    {
        var keys = MainFileKeys.All.Where(k => !MainFileKeys.Sections.ContainsKey(k.Name)).Select(k => ((RouteKey?)null, k))
            .Concat(MainFileKeys.Sections.Where(s => MainFileKeys.All.Any(a => a.Name == s.Key)).SelectMany(s => s.Value.Keys.Select(k => ((RouteKey?)MainFileKeys.All.Single(a => a.Name == s.Key), k))));
        foreach (var (section, key) in keys)
        {
            if (key.Kind is RouteKeyKind.Integer)
            {
                yield return (section, key, key.Min, true);
                yield return (section, key, key.Max, true);
                yield return (section, key, key.Min - 1L, false);
                yield return (section, key, key.Max + 1L, false);
            }
            else if (key.Kind is RouteKeyKind.Choice)
            {
                foreach (var choice in key.Choices)
                    yield return (section, key, choice, true);
                yield return (section, key, key.Choices[0] + "x", false);
            }
        }
    }

    private static List<(DocExamples.Block Block, FileKind Kind, JsonObject Json)> Examples()
    {
        var examples = new List<(DocExamples.Block, FileKind, JsonObject)>();
        foreach (var block in DocExamples.YamlBlocks().Where(b => !b.Skipped))
        {
            JsonObject json;
            try
            {
                json = YamlJson.Parse(block.Text)?.AsObject() ?? throw new InvalidOperationException($"{block}: an empty yaml block");
            }
            catch (YamlDotNet.Core.YamlException e)
            {
                throw new InvalidOperationException($"{block}: not one YAML mapping ({e.Message}); mark it with <!-- schema: skip (why) --> on the line before if it is not a file", e);
            }

            var kind = Classify(block, json);
            examples.Add((block, kind, Completed(kind, json)));
        }

        return examples;
    }

    // By the file its first line names, else by its keys: a section of kcp.yaml shown alone, or route keys.
    private static FileKind Classify(DocExamples.Block block, JsonObject json)
    {
        var first = block.Text.Split('\n')[0].Trim();
        if (first == "# kcp.yaml")
            return FileKind.Main;
        if (first.StartsWith("# routes/", StringComparison.Ordinal))
            return FileKind.Route;
        var keys = json.Select(p => p.Key).ToList();
        if (keys.All(k => MainFileKeys.All.Any(m => m.Name == k)))
            return FileKind.Main;
        if (keys.All(k => RouteKeys.All.Any(r => r.Name == k)))
            return FileKind.Route;
        throw new InvalidOperationException($"{block}: neither a route file nor kcp.yaml (keys {string.Join(", ", keys)}); mark it with <!-- schema: skip (why) --> on the line before");
    }

    // A fragment (a section of kcp.yaml, a few route keys) completed into a whole file with the required keys.
    private static JsonObject Completed(FileKind kind, JsonObject json)
    {
        var whole = json.DeepClone().AsObject();
        if (kind == FileKind.Main)
        {
            whole["clusters"] ??= JsonNode.Parse(MainFileDefaults)!["clusters"]!.DeepClone();
            return whole;
        }

        whole["topic"] ??= "orders";
        whole["group"] ??= "orders-proxy";
        if (!whole.ContainsKey("host"))
            whole["endpoint"] ??= "http://127.0.0.1:8080/";
        return whole;
    }

    private static EvaluationResults Evaluate(FileKind kind, JsonObject json)
    {
        using var document = JsonDocument.Parse(json.ToJsonString());
        return (kind == FileKind.Route ? RouteSchema : MainSchema).Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Describe(EvaluationResults result) =>
        string.Join("; ", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).Select(d => $"{d.InstanceLocation}: {string.Join(", ", d.Errors!.Values)}"));

    // The loader's errors for the file as JSON (which is YAML too), beside a minimal other file.
    private static IReadOnlyList<ConfigError> LoadErrors(FileKind kind, JsonObject json)
    {
        using var directory = new ConfigDirectory("kcp-schema-");
        directory.WriteMain(kind == FileKind.Main ? json.ToJsonString() : MainFileDefaults);
        directory.Write("routes/r.yaml", kind == FileKind.Route ? json.ToJsonString() : "{\"topic\": \"t\", \"group\": \"g\", \"endpoint\": \"http://127.0.0.1:8080/\"}");
        return ConfigLoader.TryLoad(Path.Combine(directory.Path, "kcp.yaml")).Errors;
    }

    private static bool IsLoaderOnly(ConfigError error) => LoaderOnly.Any(k => k.Message.IsMatch(error.Message));

    private static string Yaml(object value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable<int> list => "[" + string.Join(", ", list.Select(n => n.ToString(CultureInfo.InvariantCulture))) + "]",
        _ => value.ToString()!,
    };
}
