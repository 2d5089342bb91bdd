using System.Collections;
using System.Reflection;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Routes;

/// <summary>
/// Compares route and cluster definitions by value, for reloads: the records' own equality compares their
/// dictionaries and lists by reference. Every public property takes part, so a key added later counts too.
/// </summary>
internal static class RouteComparison
{
    public static bool Same(RouteDefinition a, RouteDefinition b) => SameProperties(a, b);

    public static bool Same(ClusterDefinition a, ClusterDefinition b) => SameProperties(a, b);

    private static bool SameProperties(object a, object b)
    {
        if (a.GetType() != b.GetType())
        {
            return false;
        }

        foreach (var property in a.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0 && !SameValue(property.GetValue(a), property.GetValue(b)))
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameValue(object? a, object? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        if (a is IReadOnlyDictionary<string, string> da && b is IReadOnlyDictionary<string, string> db)
        {
            return da.Count == db.Count && da.All(kv => db.TryGetValue(kv.Key, out var v) && string.Equals(v, kv.Value, StringComparison.Ordinal));
        }

        if (a is not string && a is IEnumerable ea && b is IEnumerable eb)
        {
            return ea.Cast<object?>().SequenceEqual(eb.Cast<object?>(), ValueComparer.Instance);
        }

        var type = a.GetType();
        if (type is { IsClass: true, Namespace: { } ns } && ns.StartsWith("KafkaConsumerProxy", StringComparison.Ordinal))
        {
            // A nested part of the model (a record that may hold lists of its own).
            return SameProperties(a, b);
        }

        return a.Equals(b);
    }

    private sealed class ValueComparer : IEqualityComparer<object?>
    {
        public static readonly ValueComparer Instance = new();

        public new bool Equals(object? x, object? y) => SameValue(x, y);

        public int GetHashCode(object? obj) => 0;
    }
}
