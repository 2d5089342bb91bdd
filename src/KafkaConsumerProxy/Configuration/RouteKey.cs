using System.Globalization;
using System.Reflection;

namespace KafkaConsumerProxy.Configuration;

/// <summary>What a route key holds, as a JSON Schema would name it.</summary>
internal enum RouteKeyKind
{
    /// <summary>A non-empty string.</summary>
    String,

    /// <summary>A whole number within <see cref="RouteKey.Min"/> and <see cref="RouteKey.Max"/>.</summary>
    Integer,

    /// <summary><c>true</c> or <c>false</c>, in any case.</summary>
    Boolean,

    /// <summary>One of <see cref="RouteKey.Choices"/>, matched case-insensitively.</summary>
    Choice,

    /// <summary>A list of whole numbers, each within <see cref="RouteKey.Min"/> and <see cref="RouteKey.Max"/>.</summary>
    IntegerList,

    /// <summary>A mapping of names to values (<c>consumer_conf</c>, <c>auth</c>, <c>headers</c>).</summary>
    Mapping,

    /// <summary>An absolute http(s) URL, or a list of them (<c>endpoint</c>).</summary>
    UrlList,

    /// <summary>A list of non-empty strings (<c>admin.allowed_hosts</c>).</summary>
    StringList,
}

/// <summary>
/// One key of a route file, declared once next to the property it sets: whether it must be written, the range of an
/// integer (of each entry of an integer list), the choices of a string and the value an absent key takes. A route file
/// is bound to these declarations (<see cref="RouteBinding"/>) and checked against them (<see cref="RouteValidator"/>),
/// the route-key table of docs/CONFIGURATION.md is tested against them, and <see cref="ConfigSchema"/> makes the JSON Schema of
/// <c>kcp schema</c> from them (<see cref="RouteKeys.All"/>; the main file's in <see cref="MainFileKeys"/>).
/// </summary>
internal sealed record RouteKey(string Name, RouteKeyKind Kind)
{
    /// <summary>True when a route file must write the key.</summary>
    public bool Required { get; init; }

    /// <summary>The smallest value of an integer key (or list entry); <see cref="int.MinValue"/> when unbounded.</summary>
    public int Min { get; init; } = int.MinValue;

    /// <summary>The largest value of an integer key (or list entry); <see cref="int.MaxValue"/> when unbounded.</summary>
    public int Max { get; init; } = int.MaxValue;

    /// <summary>The values a <see cref="RouteKeyKind.Choice"/> key allows, as a file writes them.</summary>
    public IReadOnlyList<string> Choices { get; init; } = [];

    /// <summary>
    /// The value an absent key takes, as a file would write it (an <see cref="int"/>, a <see cref="bool"/>, a
    /// <see cref="string"/> or, for an integer list, an <see cref="IReadOnlyList{T}"/> of <see cref="int"/>); null for a required key and for one whose absence means "none".
    /// </summary>
    public object? Default { get; init; }

    /// <summary>What the key is for, in one or two sentences: the description of the key in the JSON Schema (<c>kcp schema</c>).</summary>
    public string Description { get; init; } = "";

    /// <summary>What a <see cref="RouteKeyKind.Mapping"/> key holds, as error messages say it.</summary>
    public string Shape { get; init; } = "a mapping";

    /// <summary>
    /// What a value of the key must be, as error messages say it after "must be": <c>an integer from 1 to 65535</c>,
    /// <c>true or false</c>, <c>one of: errno, status</c>.
    /// </summary>
    public string Expected => Kind switch
    {
        RouteKeyKind.Integer when Min == int.MinValue && Max == int.MaxValue => "an integer",
        RouteKeyKind.Integer => string.Create(CultureInfo.InvariantCulture, $"an integer from {Min} to {Max}"),
        RouteKeyKind.Boolean => "true or false",
        RouteKeyKind.Choice => $"one of: {string.Join(", ", Choices)}",
        RouteKeyKind.IntegerList => string.Create(CultureInfo.InvariantCulture, $"a list of integers from {Min} to {Max}, e.g. [400, 404]"),
        RouteKeyKind.Mapping => Shape,
        RouteKeyKind.StringList => "a list of strings, e.g. [a, b]",
        RouteKeyKind.UrlList => "an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume, or a list of such URLs that differ only in their host",
        _ => "a non-empty string",
    };

    /// <summary>An optional integer key from <paramref name="min"/> to <paramref name="max"/>; null default = none.</summary>
    public static RouteKey Integer(string name, int min, int max, int? defaultValue) => new(name, RouteKeyKind.Integer) { Min = min, Max = max, Default = defaultValue };

    /// <summary>An optional key whose choices are the names of <typeparamref name="TEnum"/> in lower case.</summary>
    public static RouteKey Choice<TEnum>(string name, TEnum defaultValue)
        where TEnum : struct, Enum =>
        new(name, RouteKeyKind.Choice) { Choices = [.. Enum.GetNames<TEnum>().Select(Spelled)], Default = Spelled(defaultValue.ToString()) };

    /// <summary>An optional true/false key.</summary>
    public static RouteKey Boolean(string name, bool defaultValue) => new(name, RouteKeyKind.Boolean) { Default = defaultValue };

    /// <summary>An optional mapping holding <paramref name="shape"/>; absent means empty.</summary>
    public static RouteKey Mapping(string name, string shape) => new(name, RouteKeyKind.Mapping) { Shape = shape };

    /// <summary>The value of a <see cref="RouteKeyKind.Choice"/> key as <typeparamref name="TEnum"/>; null for null.</summary>
    public static TEnum? Parse<TEnum>(string? written)
        where TEnum : struct, Enum =>
        written is null ? null : Enum.Parse<TEnum>(written, ignoreCase: true);

#pragma warning disable CA1308 // Keys are written in lower case; this is a spelling, not a comparison.
    private static string Spelled(string enumName) => enumName.ToLowerInvariant();
#pragma warning restore CA1308

    /// <summary>A required string key.</summary>
    public static RouteKey RequiredString(string name) => new(name, RouteKeyKind.String) { Required = true };

    /// <summary>An optional string key; null default = none.</summary>
    public static RouteKey String(string name, string? defaultValue = null) => new(name, RouteKeyKind.String) { Default = defaultValue };
}

/// <summary>Every key a route file may hold, in the order the settings declare them.</summary>
internal static class RouteKeys
{
    /// <summary>The declarations of <see cref="RouteDefinition"/> and its grouped settings.</summary>
    public static IReadOnlyList<RouteKey> All { get; } =
    [
        .. Declared(typeof(RouteDefinition)), .. Declared(typeof(EndpointSettings)), .. Declared(typeof(TlsSettings)),
        .. Declared(typeof(RetrySettings)), .. Declared(typeof(DeliverySettings)), .. Declared(typeof(OffsetSettings)),
        .. Declared(typeof(DeadLetterSettings)), .. Declared(typeof(RetryLaneSettings)), .. Declared(typeof(DecodingSettings)),
    ];

    private static IEnumerable<RouteKey> Declared(Type settings) =>
        settings.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(RouteKey))
            .OrderBy(f => f.MetadataToken)
            .Select(f => (RouteKey)f.GetValue(null)!);
}
