namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// Reads one route file into a <see cref="RouteDefinition"/> in three steps: the file is parsed into a tree (with its
/// secret references resolved), the tree is bound to the route's keys (<see cref="RouteBinding"/>), and the binding is
/// checked (<see cref="RouteValidator"/>); only a route that passed is made. Errors are added to the caller's list, each
/// naming the file, the key and the bad value.
/// </summary>
internal static class RouteReader
{
    /// <summary>The route of <paramref name="file"/>, or null after adding its errors to <paramref name="errors"/>.</summary>
    /// <paramref name="roots"/> receives the file's tree as written, from which <see cref="ConfigPositions"/> reads where
    /// each error is.
    public static RouteDefinition? Read(string file, string name, Dictionary<string, ClusterDefinition>? clusters, Dictionary<string, LimitDefinition>? limits, List<ConfigError> errors, Dictionary<string, MappingNode> roots)
    {
        var root = ConfigTree.Parse(file, errors);
        if (root is null)
            return null;
        roots[file] = root;
        root = SecretReferences.Resolve(file, root, errors);

        var binding = RouteBinding.Bind(file, root);
        if (!RouteValidator.Validate(binding, clusters, limits, errors))
            return null;
        var route = binding.ToRoute(name);
        if (route.Decoding.Enabled && clusters is not null)
            route = route with { Decoding = route.Decoding with { Registry = clusters[route.Cluster].SchemaRegistry } };
        return RouteValidator.ValidateRequests(binding, route, errors) ? route : null;
    }
}
