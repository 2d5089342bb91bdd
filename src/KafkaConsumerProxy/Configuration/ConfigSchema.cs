using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The JSON Schemas (draft 2020-12) of a route file and of <c>kcp.yaml</c> that <c>kcp schema route|main</c> prints,
/// made from the declarations the loader reads the files with (<see cref="RouteKeys.All"/>, <see cref="AuthSettings"/>,
/// <see cref="EndpointSettings.PartsOfEndpoint"/>, <see cref="MainFileKeys"/>): every key's type, range, choices,
/// default and description, and <c>additionalProperties: false</c> wherever the loader refuses unknown keys. The schema
/// checks each value on its own and the exclusions it can state (<c>endpoint</c> or <c>host</c>, the keys of each
/// <c>auth.type</c>, <c>telemetry</c> keys only with <c>otlp_endpoint</c>); what needs more than that (a cluster that
/// exists, a file that can be read, rules between numbers) only the loader checks: docs/CONFIGURATION.md, "JSON Schema".
/// A schema is also stricter in two ways: a number or a boolean must be written unquoted, and a choice in lower case.
/// </summary>
internal static class ConfigSchema
{
    /// <summary>The dialect both schemas declare.</summary>
    public const string Draft = "https://json-schema.org/draft/2020-12/schema";

    // What the loader calls a non-empty string: one that is not only white space.
    private const string NotBlank = "\\S";

    private static readonly JsonSerializerOptions Written = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The schema of a route file, as indented JSON.</summary>
    public static string Route() => Text(RouteSchema());

    /// <summary>The schema of <c>kcp.yaml</c>, as indented JSON.</summary>
    public static string MainFile() => Text(MainSchema());

    private static string Text(JsonObject schema) => schema.ToJsonString(Written) + "\n";

    private static JsonObject RouteSchema()
    {
        var schema = Header("kcp route file",
            "One route of kcp: a (topic, consumer group) whose messages are POSTed to one HTTP endpoint. Three keys make a route (topic, group, endpoint); every other key has a default.");
        var properties = new JsonObject();
        foreach (var key in RouteKeys.All)
            properties[key.Name] = key == EndpointSettings.AuthKey ? AuthSchema(key) : KeySchema(key);
        schema["properties"] = properties;
        schema["required"] = Names(RouteKeys.All.Where(k => k.Required));
        schema["additionalProperties"] = false;

        // endpoint, or host (with port, url and scheme): one of the two forms, never both.
        var endpoint = EndpointSettings.EndpointKey.Name;
        var host = EndpointSettings.HostKey.Name;
        schema["oneOf"] = new JsonArray(
            new JsonObject
            {
                ["required"] = new JsonArray(endpoint),
                ["not"] = new JsonObject { ["anyOf"] = new JsonArray([.. EndpointSettings.PartsOfEndpoint.Select(k => (JsonNode)Required(k.Name))]) },
            },
            new JsonObject { ["required"] = new JsonArray(host), ["not"] = Required(endpoint) });
        return schema;
    }

    // auth: a type, the keys of that type (its required ones required) and no key of another type.
    private static JsonObject AuthSchema(RouteKey auth)
    {
        var properties = new JsonObject { [AuthSettings.TypeKey.Name] = KeySchema(AuthSettings.TypeKey with { Required = true }) };
        foreach (var (key, _, _) in AuthSettings.KeysOfTypes)
            properties[key.Name] = KeySchema(key with { Required = true });
        var rules = new JsonArray();
        foreach (var type in AuthSettings.TypeKey.Choices)
        {
            var others = AuthSettings.KeysOfTypes.Where(k => k.Type != type).Select(k => k.Key.Name);
            rules.Add(new JsonObject
            {
                ["if"] = new JsonObject { ["properties"] = new JsonObject { [AuthSettings.TypeKey.Name] = new JsonObject { ["const"] = type } } },
                ["then"] = new JsonObject
                {
                    ["required"] = Names(AuthSettings.KeysOfTypes.Where(k => k.Type == type && k.Required).Select(k => k.Key)),
                    ["properties"] = new JsonObject([.. others.Select(name => KeyValuePair.Create(name, (JsonNode?)false))]),
                },
            });
        }

        return new JsonObject
        {
            ["description"] = auth.Description,
            ["type"] = new JsonArray("object", "null"),
            ["properties"] = properties,
            ["required"] = new JsonArray(AuthSettings.TypeKey.Name),
            ["additionalProperties"] = false,
            ["allOf"] = rules,
        };
    }

    private static JsonObject MainSchema()
    {
        var schema = Header("kcp main file (kcp.yaml)",
            "kcp's main configuration file: the Kafka clusters, where the route files are, the admin endpoint, shared budgets, telemetry, logging and the fleet.");
        var properties = new JsonObject();
        foreach (var key in MainFileKeys.All)
            properties[key.Name] = MainFileKeys.Sections.TryGetValue(key.Name, out var section) ? SectionSchema(key, section.Keys, section.PerName) : KeySchema(key);
        schema["properties"] = properties;
        schema["required"] = Names(MainFileKeys.All.Where(k => k.Required));
        schema["additionalProperties"] = false;
        return schema;
    }

    // A section of kcp.yaml: a mapping of its keys, or (clusters, limits) of names to mappings of its keys.
    private static JsonObject SectionSchema(RouteKey section, IReadOnlyList<RouteKey> keys, bool perName)
    {
        var entry = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject([.. keys.Select(k => KeyValuePair.Create(k.Name, (JsonNode?)(MainFileKeys.Sections.TryGetValue(k.Name, out var nested) ? SectionSchema(k, nested.Keys, nested.PerName) : KeySchema(k))))]),
            ["required"] = Names(keys.Where(k => k.Required)),
            ["additionalProperties"] = false,
        };
        if (section == MainFileKeys.Limits)
            entry["anyOf"] = new JsonArray([.. keys.Select(k => (JsonNode)Required(k.Name))]);
        if (section == MainFileKeys.Telemetry)
            entry["dependentRequired"] = new JsonObject([.. keys.Skip(1).Select(k => KeyValuePair.Create(k.Name, (JsonNode?)new JsonArray(keys[0].Name)))]);

        var schema = new JsonObject { ["description"] = section.Description };
        if (!perName)
        {
            entry["type"] = section.Required ? "object" : new JsonArray("object", "null");
            foreach (var (name, value) in entry.ToList())
            {
                entry.Remove(name);
                schema[name] = value;
            }

            return schema;
        }

        schema["type"] = section.Required ? "object" : new JsonArray("object", "null");
        if (section.Required)
            schema["minProperties"] = 1;
        schema["additionalProperties"] = entry;
        return schema;
    }

    private static JsonObject KeySchema(RouteKey key)
    {
        var schema = new JsonObject();
        if (key.Description.Length > 0)
            schema["description"] = key.Description;
        // An optional key written with no value (`key:` or `key: ~`) takes its default, as the loader reads it.
        JsonNode Type(string type) => key.Required ? type : new JsonArray(type, "null");
        switch (key.Kind)
        {
            case RouteKeyKind.Integer:
                schema["type"] = Type("integer");
                schema["minimum"] = key.Min;
                schema["maximum"] = key.Max;
                break;
            case RouteKeyKind.Boolean:
                schema["type"] = Type("boolean");
                break;
            case RouteKeyKind.Choice:
                schema["enum"] = new JsonArray([.. key.Choices.Select(c => (JsonNode?)c), .. key.Required ? Array.Empty<JsonNode?>() : [null]]);
                break;
            case RouteKeyKind.IntegerList:
                schema["type"] = Type("array");
                schema["items"] = new JsonObject { ["type"] = "integer", ["minimum"] = key.Min, ["maximum"] = key.Max };
                break;
            case RouteKeyKind.StringList:
                schema["type"] = Type("array");
                schema["items"] = new JsonObject { ["type"] = "string", ["pattern"] = NotBlank };
                break;
            case RouteKeyKind.UrlList:
                var url = new JsonObject { ["type"] = "string", ["pattern"] = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+", ["examples"] = new JsonArray("http://10.0.0.5:8080/consume") };
                schema["oneOf"] = new JsonArray(url, new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = url.DeepClone() });
                break;
            case RouteKeyKind.Mapping:
                schema["type"] = Type("object");
                if (key == EndpointSettings.HeadersKey || key.Name == "otlp_headers")
                    schema["propertyNames"] = new JsonObject { ["pattern"] = $"^[A-Za-z0-9{RegexClass(EndpointSecurityRules.TokenPunctuation)}]+$" };
                else
                    schema["propertyNames"] = new JsonObject { ["minLength"] = 1 };
                schema["additionalProperties"] = new JsonObject { ["type"] = new JsonArray("string", "number", "boolean") };
                break;
            default:
                schema["type"] = Type("string");
                schema["pattern"] = NotBlank;
                break;
        }

        schema["default"] = key.Default switch
        {
            int number => number,
            bool flag => flag,
            string text => text,
            IReadOnlyList<int> list => new JsonArray([.. list.Select(n => (JsonNode?)n)]),
            _ => null,
        };
        if (schema["default"] is null)
            schema.Remove("default");
        return schema;
    }

    private static JsonObject Header(string title, string description) => new()
    {
        ["$schema"] = Draft,
        ["title"] = title,
        ["description"] = description,
        ["type"] = "object",
    };

    private static JsonObject Required(string name) => new() { ["required"] = new JsonArray(name) };

    private static JsonArray Names(IEnumerable<RouteKey> keys) => new([.. keys.Select(k => (JsonNode)k.Name)]);

    // The characters of `chars` inside a regular expression's [...]: '-', '^', '\', ']' and '[' escaped.
    private static string RegexClass(string chars) => string.Concat(chars.Select(c => c is '-' or '^' or '\\' or ']' or '[' ? "\\" + c : c.ToString()));
}
