using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A temporary kcp.yaml with a <c>routes/</c> folder, for tests of what the loader reads from route keys: write the
/// files, then <see cref="Load"/> (must succeed) or <see cref="Errors"/> (must fail) and <see cref="Describe"/> them.
/// </summary>
internal sealed class ConfigDirectory : IDisposable
{
    /// <summary>The keys every route file must have, each with a valid value; a test appends the keys it is about.</summary>
    public const string RequiredRouteKeys = """
        topic: orders
        group: billing
        host: 10.0.0.5
        port: 8080
        url: /inner/orders
        concurrency: 2
        can_skip: true
        retry_nums: 3
        retry_interval_ms: 100
        conn_timeout_ms: 1000
        exec_timeout_ms: 5000
        use_saved_offset_time: 0

        """;

    public ConfigDirectory(string prefix)
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "routes"));
    }

    public string Path { get; }

    /// <summary>The one route file, routes/r.yaml.</summary>
    public string RouteFile => System.IO.Path.Combine(Path, "routes", "r.yaml");

    /// <summary>Writes <paramref name="main"/> as kcp.yaml and <paramref name="route"/> as routes/r.yaml, then loads them.</summary>
    public KcpConfig Load(string main, string route)
    {
        WriteMain(main);
        Write("routes/r.yaml", route);
        return ConfigLoader.Load(System.IO.Path.Combine(Path, "kcp.yaml"));
    }

    /// <summary>The errors of loading the files as written; the load must fail.</summary>
    public IReadOnlyList<ConfigError> Errors()
    {
        var (loaded, errors) = ConfigLoader.TryLoad(System.IO.Path.Combine(Path, "kcp.yaml"));
        Assert.Null(loaded);
        return errors;
    }

    /// <summary>An error as printed, without its file, line and column: <c>key 'k' = 'v': message</c>.</summary>
    public static string Describe(ConfigError error) =>
        error.ToString()[(error.Location.Length + ": ".Length)..];

    public void WriteMain(string content) => Write("kcp.yaml", content);

    public void Write(string relativePath, string content) => File.WriteAllText(System.IO.Path.Combine(Path, relativePath), content);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
