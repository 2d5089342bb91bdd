using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Tests.Configuration;

public sealed class ConfigLoaderTests : IDisposable
{
    private const string MainYaml = """
        clusters:
          default:
            bootstrap_servers: "10.0.0.1:9092,10.0.0.2:9092"
        """;

    // Every required route key, in the order of the spec table.
    private static readonly (string Key, string Value)[] RequiredRouteKeys =
    [
        ("topic", "orders"), ("group", "billing"), ("host", "10.0.0.5"), ("port", "8080"), ("url", "/inner/orders"),
        ("concurrency", "2"), ("can_skip", "true"), ("retry_nums", "3"), ("retry_interval_ms", "100"),
        ("conn_timeout_ms", "1000"), ("exec_timeout_ms", "5000"), ("use_saved_offset_time", "0"),
    ];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcp-config-tests", Guid.NewGuid().ToString("N"));

    public ConfigLoaderTests() => Directory.CreateDirectory(Path.Combine(_dir, "routes"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_YamlYmlAndJsonRoutes_ReturnsRoutesSortedByNameWithDefaults()
    {
        var config = WriteMain(MainYaml);
        Write("routes/b.yml", RouteYaml(("topic", "t-b")));
        Write("routes/a.yaml", RouteYaml(("topic", "t-a")));
        Write("routes/c.json", """
            {
              "topic": "t-c", "group": "billing", "host": "h1", "port": 80, "url": "/x", "concurrency": 1,
              "can_skip": false, "retry_nums": 0, "retry_interval_ms": 0, "conn_timeout_ms": 1, "exec_timeout_ms": 1,
              "use_saved_offset_time": -1
            }
            """);
        Write("routes/README.md", "not a route");

        var loaded = ConfigLoader.Load(config);

        Assert.Equal(Path.Combine(_dir, "kcp.yaml"), loaded.ConfigFile);
        Assert.Equal(Path.Combine(_dir, "routes"), loaded.RoutesDir);
        Assert.Equal(Path.Combine(_dir, "state"), loaded.StateDir);
        var cluster = Assert.Single(loaded.Clusters).Value;
        Assert.Equal(new ClusterDefinition("default", "10.0.0.1:9092,10.0.0.2:9092", cluster.ConsumerConf), cluster);
        Assert.Empty(cluster.ConsumerConf);
        Assert.Equal(["a", "b", "c"], loaded.Routes.Select(r => r.Name));

        var a = loaded.Routes[0];
        Assert.Equal(Path.Combine(_dir, "routes", "a.yaml"), a.SourceFile);
        Assert.Equal(("t-a", "billing", "default"), (a.Topic, a.Group, a.Cluster));
        Assert.Equal(["10.0.0.5"], a.Endpoint.Hosts);
        Assert.Equal((8080, "/inner/orders", 2, true), (a.Endpoint.Port, a.Endpoint.Url, a.Concurrency, a.Retry.CanSkip));
        Assert.Equal((3, 100, 1000, 5000, 0), (a.Retry.RetryNums, a.Retry.RetryIntervalMs, a.Endpoint.ConnTimeoutMs, a.Endpoint.ExecTimeoutMs, a.Offsets.UseSavedOffsetTime));
        // Defaults of every optional key.
        Assert.Null(a.Endpoint.SlowTimeMs);
        Assert.Null(a.Endpoint.Domain);
        Assert.Empty(a.ConsumerConf);
        Assert.Empty(a.ConsumerTopicConf);
        Assert.Equal(0, a.Delivery.AsyncConcurrency);
        Assert.Equal(DeliveryGuarantee.AtLeastOnce, a.Offsets.MessageDeliveryGuarantees);
        Assert.Equal(ResponseCheck.Errno, a.Endpoint.ResponseCheck);
        Assert.Equal(5000, a.Offsets.CommitIntervalMs);

        var c = loaded.Routes[2];
        Assert.Equal(("t-c", 80, false, -1), (c.Topic, c.Endpoint.Port, c.Retry.CanSkip, c.Offsets.UseSavedOffsetTime));
        Assert.Equal(Path.Combine(_dir, "routes", "c.json"), c.SourceFile);
    }

    [Fact]
    public void Load_EveryOptionalKeySet_ReadsEveryValue()
    {
        var config = WriteMain("""
            clusters:
              default:
                bootstrap_servers: a:9092
              eu:
                bootstrap_servers: b:9092
                consumer_conf: { security.protocol: SASL_SSL, sasl.mechanisms: PLAIN, sasl.username: u, sasl.password: hunter2 }
            """);
        Write("routes/r.yaml", RouteYaml(
            ("cluster", "eu"), ("host", "\" h1 , h2,h3\""), ("port", "\"8081\""), ("can_skip", "FALSE"),
            ("slow_time_ms", "250"), ("domain", "orders.internal"),
            ("consumer_conf", "{ check.crcs: True, fetch.wait.max.ms: 50, client.id: \"True\" }"),
            ("consumer_topic_conf", "{ auto.offset.reset: smallest }"),
            ("async_concurrency", "10000"), ("message_delivery_guarantees", "3"), ("response_check", "status"),
            ("commit_interval_ms", "3600000")));

        var route = Assert.Single(ConfigLoader.Load(config).Routes);

        Assert.Equal("eu", route.Cluster);
        Assert.Equal(["h1", "h2", "h3"], route.Endpoint.Hosts);
        Assert.Equal(8081, route.Endpoint.Port);
        Assert.False(route.Retry.CanSkip);
        Assert.Equal(250, route.Endpoint.SlowTimeMs);
        Assert.Equal("orders.internal", route.Endpoint.Domain);
        // A plain YAML bool becomes "true"; a quoted string is passed on as written.
        Assert.Equal(new Dictionary<string, string> { ["check.crcs"] = "true", ["fetch.wait.max.ms"] = "50", ["client.id"] = "True" }, route.ConsumerConf);
        Assert.Equal(new Dictionary<string, string> { ["auto.offset.reset"] = "smallest" }, route.ConsumerTopicConf);
        Assert.Equal(10000, route.Delivery.AsyncConcurrency);
        Assert.Equal(DeliveryGuarantee.NoRepeatOnOneMachine, route.Offsets.MessageDeliveryGuarantees);
        Assert.Equal(ResponseCheck.Status, route.Endpoint.ResponseCheck);
        Assert.Equal(3_600_000, route.Offsets.CommitIntervalMs);
    }

    [Fact]
    public void Load_RelativeDirectories_ResolvedAgainstConfigFileDirectory()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "shared-routes"));
        var config = Write("conf/kcp.yaml", MainYaml + "\nroutes_dir: ../shared-routes\nstate_dir: var/state\n");
        Write("shared-routes/r.yaml", RouteYaml());

        var loaded = ConfigLoader.Load(config);

        Assert.Equal(Path.Combine(_dir, "shared-routes"), loaded.RoutesDir);
        Assert.Equal(Path.Combine(_dir, "conf", "var", "state"), loaded.StateDir);
        Assert.Equal("r", Assert.Single(loaded.Routes).Name);
    }

    [Fact]
    public void Load_AbsoluteRoutesDir_UsedAsIs()
    {
        var elsewhere = Path.Combine(_dir, "elsewhere");
        Write("elsewhere/r.yaml", RouteYaml());
        var config = Write("conf/kcp.yaml", MainYaml + $"\nroutes_dir: '{elsewhere}'\n");

        Assert.Equal(elsewhere, ConfigLoader.Load(config).RoutesDir);
    }

    [Fact]
    public void TryLoad_ConfigFileMissing_ReportsNotFound()
    {
        var (config, errors) = ConfigLoader.TryLoad(Path.Combine(_dir, "nope.yaml"));

        Assert.Null(config);
        Assert.Equal([new ConfigError(Path.Combine(_dir, "nope.yaml"), null, null, "config file not found")], errors);
    }

    [Fact]
    public void TryLoad_UnparseableYaml_ReportsLineAndColumn()
    {
        Write("routes/bad.yaml", "topic: orders\ngroup: [billing\nport: 1\n");

        var error = Assert.Single(Errors());

        Assert.Equal(Path.Combine(_dir, "routes", "bad.yaml"), error.File);
        Assert.StartsWith("cannot parse YAML after line 2, column ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoad_YamlDuplicateKey_ReportsLineAndColumn()
    {
        Write("routes/dup.yaml", "topic: a\ntopic: b\n");

        Assert.Equal("cannot parse YAML at line 2, column 1: Duplicate key topic", Assert.Single(Errors()).Message);
    }

    [Fact]
    public void TryLoad_UnparseableJson_ReportsLineAndColumn()
    {
        Write("routes/bad.json", "{\n  \"topic\": orders\n}");

        Assert.Equal("cannot parse JSON at line 2, column 12: 'o' is an invalid start of a value.", Assert.Single(Errors()).Message);
    }

    [Fact]
    public void TryLoad_JsonDuplicateKey_Reported()
    {
        Write("routes/dup.json", """{ "topic": "a", "topic": "b" }""");

        Assert.Contains(Errors(), e => e is { Key: "topic", Value: null, Message: "duplicate key" });
    }

    [Theory]
    [InlineData("routes/list.yaml", "- topic: a\n", "the top level must be a mapping of keys to values, got a sequence")]
    [InlineData("routes/scalar.json", "42", "the top level must be a mapping of keys to values, got a scalar")]
    [InlineData("routes/empty.yaml", "# nothing yet\n", "the file is empty; expected a mapping of keys to values")]
    [InlineData("routes/two.yaml", "topic: a\n---\ntopic: b\n", "the file holds 2 YAML documents; expected one")]
    public void TryLoad_TopLevelNotOneMapping_Reported(string file, string content, string message)
    {
        Write(file, content);

        Assert.Equal(new ConfigError(Path.Combine(_dir, file), null, null, message), Assert.Single(Errors()));
    }

    [Fact]
    public void TryLoad_RequiredKeysMissing_ReportsEachWithAllowedValues()
    {
        Write("routes/r.yaml", RouteYaml(("host", null), ("group", null), ("topic", null)));

        Assert.Equal(
        [
            "key 'topic': required key is missing; must be a non-empty string",
            "key 'group': required key is missing; must be a non-empty string",
            "key 'endpoint': required key is missing; must be an absolute http:// or https:// URL such as http://10.0.0.5:8080/consume, or a list of such URLs that differ only in their host (or host, with port and url)",
        ], Errors().Select(Describe));
    }

    [Theory]
    [InlineData("port", "\"abc\"", "key 'port' = 'abc': must be an integer from 1 to 65535")]
    [InlineData("port", "65536", "key 'port' = '65536': must be an integer from 1 to 65535")]
    [InlineData("port", "8080.0", "key 'port' = '8080.0': must be an integer from 1 to 65535")]
    [InlineData("port", "{ a: 1 }", "key 'port': must be an integer from 1 to 65535, got a mapping")]
    [InlineData("can_skip", "maybe", "key 'can_skip' = 'maybe': must be true or false")]
    [InlineData("can_skip", "yes", "key 'can_skip' = 'yes': must be true or false")]
    [InlineData("retry_nums", "-1", "key 'retry_nums' = '-1': must be an integer from 0 to 2147483647")]
    [InlineData("retry_nums", "99999999999", "key 'retry_nums' = '99999999999': must be an integer from 0 to 2147483647")]
    [InlineData("retry_interval_ms", "-5", "key 'retry_interval_ms' = '-5': must be an integer from 0 to 2147483647")]
    [InlineData("concurrency", "0", "key 'concurrency' = '0': must be an integer from 1 to 256")]
    [InlineData("concurrency", "257", "key 'concurrency' = '257': must be an integer from 1 to 256")]
    [InlineData("conn_timeout_ms", "0", "key 'conn_timeout_ms' = '0': must be an integer from 1 to 2147483647")]
    [InlineData("exec_timeout_ms", "[1]", "key 'exec_timeout_ms': must be an integer from 1 to 2147483647, got a sequence")]
    [InlineData("use_saved_offset_time", "soon", "key 'use_saved_offset_time' = 'soon': must be an integer")]
    [InlineData("slow_time_ms", "0", "key 'slow_time_ms' = '0': must be an integer from 1 to 2147483647")]
    [InlineData("async_concurrency", "10001", "key 'async_concurrency' = '10001': must be an integer from 0 to 10000")]
    [InlineData("message_delivery_guarantees", "4", "key 'message_delivery_guarantees' = '4': must be an integer from 1 to 3")]
    [InlineData("commit_interval_ms", "3600001", "key 'commit_interval_ms' = '3600001': must be an integer from 1 to 3600000")]
    [InlineData("response_check", "body", "key 'response_check' = 'body': must be one of: errno, status, expression")]
    [InlineData("topic", "\" \"", "key 'topic' = ' ': must be a non-empty string")]
    [InlineData("group", "~", "key 'group' = '~': must be a non-empty string")]
    [InlineData("url", "inner/orders", "key 'url' = 'inner/orders': must be a path starting with '/'")]
    [InlineData("host", "\"a,,b\"", "key 'host' = 'a,,b': must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path")]
    [InlineData("host", "http://a", "key 'host' = 'http://a': must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path")]
    [InlineData("consumer_conf", "[a]", "key 'consumer_conf': must be a mapping of librdkafka property names to string, number or bool values, got a sequence")]
    [InlineData("consumer_topic_conf", "{ auto.offset.reset: [1] }", "key 'consumer_topic_conf.auto.offset.reset': must be a string, number or bool, got a sequence")]
    public void TryLoad_WrongTypeOrOutOfRange_ReportsKeyValueAndAllowedValues(string key, string yamlValue, string expected)
    {
        Write("routes/r.yaml", RouteYaml((key, yamlValue)));

        Assert.Equal(expected, Describe(Assert.Single(Errors())));
    }

    [Fact]
    public void TryLoad_JsonWrongTypes_ReportsKeyValueAndAllowedValues()
    {
        Write("routes/r.json", """
            {
              "topic": "t", "group": "g", "host": "h", "port": "80", "url": "/x", "concurrency": 1.5,
              "can_skip": "maybe", "retry_nums": 0, "retry_interval_ms": 0, "conn_timeout_ms": 1, "exec_timeout_ms": 1,
              "use_saved_offset_time": null, "domain": null, "consumer_conf": { "sasl.password": null }
            }
            """);

        Assert.Equal(
        [
            "key 'concurrency' = '1.5': must be an integer from 1 to 256",
            "key 'can_skip' = 'maybe': must be true or false",
            "key 'consumer_conf.sasl.password' = '***': must be a string, number or bool, got null",
        ], Errors().Select(Describe));
    }

    [Theory]
    [InlineData("retry_num", "unknown key; did you mean 'retry_nums'?")]
    [InlineData("Retry_Nums", "unknown key; did you mean 'retry_nums'?")]
    [InlineData("slow_time", "unknown key; did you mean 'slow_time_ms'?")]
    [InlineData("consumer-conf", "unknown key; did you mean 'consumer_conf'?")]
    [InlineData("priority", "unknown key")]
    public void TryLoad_UnknownRouteKey_SuggestsClosestKnownKey(string key, string message)
    {
        Write("routes/r.yaml", RouteYaml((key, "1")));

        Assert.Equal(new ConfigError(Path.Combine(_dir, "routes", "r.yaml"), key, null, message), Assert.Single(Errors()));
    }

    [Fact]
    public void TryLoad_UnknownCluster_ListsDefinedClusters()
    {
        WriteMain("clusters:\n  us: { bootstrap_servers: 'a:1' }\n  eu: { bootstrap_servers: 'b:1' }\n");
        Write("routes/named.yaml", RouteYaml(("cluster", "asia"), ("group", "g1")));
        Write("routes/unnamed.yaml", RouteYaml(("group", "g2")));

        Assert.Equal(
        [
            "key 'cluster' = 'asia': unknown cluster; defined clusters: eu, us",
            "key 'cluster' = 'default': unknown cluster; defined clusters: eu, us (the route has no 'cluster' key, so it uses 'default')",
        ], Errors().Select(Describe));
    }

    [Fact]
    public void TryLoad_DuplicateTopicAndGroup_NamesBothFiles()
    {
        Write("routes/a.yaml", RouteYaml());
        Write("routes/b.json", """
            { "topic": "orders", "group": "billing", "host": "h", "port": 1, "url": "/", "concurrency": 1, "can_skip": true,
              "retry_nums": 1, "retry_interval_ms": 1, "conn_timeout_ms": 1, "exec_timeout_ms": 1, "use_saved_offset_time": 0 }
            """);

        var error = Assert.Single(Errors());

        Assert.Equal(Path.Combine(_dir, "routes", "b.json"), error.File);
        Assert.Equal(
            $"key 'topic' = 'orders': topic 'orders' with group 'billing' is already consumed by route 'a' ({Path.Combine(_dir, "routes", "a.yaml")}); each (topic, group) pair may have only one route",
            Describe(error));
    }

    [Fact]
    public void TryLoad_SameRouteNameTwice_NamesBothFiles()
    {
        Write("routes/orders.yaml", RouteYaml(("group", "g1")));
        Write("routes/orders.yml", RouteYaml(("group", "g2")));

        var error = Assert.Single(Errors());

        Assert.Equal(Path.Combine(_dir, "routes", "orders.yml"), error.File);
        Assert.Equal(
            $"route name 'orders' is also used by {Path.Combine(_dir, "routes", "orders.yaml")}; a route's name is its file name without extension and must be unique",
            error.Message);
    }

    [Fact]
    public void TryLoad_RoutesDirMissing_ReportsResolvedPath()
    {
        var config = WriteMain(MainYaml + "\nroutes_dir: routez\n");

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal(new ConfigError(config, "routes_dir", "routez", $"directory not found: {Path.Combine(_dir, "routez")}"), error);
    }

    [Fact]
    public void TryLoad_RoutesDirIsFile_Reported()
    {
        var config = WriteMain(MainYaml + "\nroutes_dir: kcp.yaml\n");

        Assert.Equal($"key 'routes_dir' = 'kcp.yaml': must be a directory, but {config} is a file", Describe(Assert.Single(ConfigLoader.TryLoad(config).Errors)));
    }

    [Fact]
    public void TryLoad_NoRouteFiles_ReportsEmptyRoutesDir_Issue7()
    {
        var config = WriteMain(MainYaml);
        Write("routes/README.md", "not a route");

        Assert.Equal(
            new ConfigError(config, "routes_dir", "routes", $"holds no route file (*.yaml, *.yml or *.json) in {Path.Combine(_dir, "routes")}; kcp needs at least one route"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
    }

    [Fact]
    public void TryLoad_StateDirBelowAFile_ReportsThatItCannotBeCreated_Issue7()
    {
        var config = WriteMain(MainYaml + "\nstate_dir: kcp.yaml/sub\n");
        Write("routes/r.yaml", RouteYaml());

        Assert.Equal(
            new ConfigError(config, "state_dir", "kcp.yaml/sub", $"cannot be created: {config} is a file, not a directory"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
    }

    [Fact]
    public void TryLoad_StateDirWhereNothingCanBeCreated_ReportsSystemReason_Issue7()
    {
        // sysfs refuses every mkdir, also to root, for whom permission bits (and access()) would say yes.
        var config = WriteMain(MainYaml + "\nstate_dir: /sys/kcp-state\n");
        Write("routes/r.yaml", RouteYaml());

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal((config, "state_dir", "/sys/kcp-state"), (error.File, error.Key, error.Value));
        Assert.Matches("^cannot be created in /sys: (Operation not permitted|Permission denied)$", error.Message);
        Assert.False(Directory.Exists("/sys/kcp-state"));
    }

    [Fact]
    public void TryLoad_StateDirTooLongForControlSocket_ReportsPathAndLimit_Issue23()
    {
        // A state_dir of 91 bytes: '/kcp-4194304.sock' takes it to 108, one over what sun_path holds with its NUL.
        var stateDir = "/" + new string('s', 90);
        var config = WriteMain(MainYaml + $"\nstate_dir: {stateDir}\n");
        Write("routes/r.yaml", RouteYaml());

        Assert.Equal(
            new ConfigError(config, "state_dir", stateDir, $"is too long for the control socket: {stateDir}/kcp-{{pid}}.sock may be up to 108 bytes, and a Unix socket path may have at most 107 (108 bytes including the terminating NUL, Linux's sun_path); use a state_dir of at most 90 bytes"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
        Assert.False(Directory.Exists(stateDir));
    }

    [Fact]
    public void TryLoad_StateDirAtSocketPathLimit_Accepted_Issue23()
    {
        var stateDir = Path.Combine(_dir, new string('s', 89 - _dir.Length));
        var config = WriteMain(MainYaml + $"\nstate_dir: {stateDir}\n");
        Write("routes/r.yaml", RouteYaml());

        Assert.Equal(stateDir, ConfigLoader.Load(config).StateDir);
    }

    [Fact]
    public void TryLoad_StateDirDanglingSymlink_Reported()
    {
        var config = WriteMain(MainYaml);
        Write("routes/r.yaml", RouteYaml());
        File.CreateSymbolicLink(Path.Combine(_dir, "state"), Path.Combine(_dir, "gone"));

        Assert.Equal(
            new ConfigError(config, "state_dir", "state", $"cannot be created: {Path.Combine(_dir, "state")} is a symbolic link to {Path.Combine(_dir, "gone")}, which does not exist"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
    }

    [Fact]
    public void TryLoad_OffsetsDirDanglingSymlink_Reported()
    {
        var config = WriteMain(MainYaml);
        Write("routes/r.yaml", RouteYaml());
        Directory.CreateDirectory(Path.Combine(_dir, "state"));
        File.CreateSymbolicLink(Path.Combine(_dir, "state", "offsets"), Path.Combine(_dir, "gone"));

        Assert.Equal(
            new ConfigError(config, "state_dir", "state", $"holds a file {Path.Combine(_dir, "state", "offsets")} where kcp keeps its offset records directory"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
    }

    [Fact]
    public void TryLoad_StateDirSkipFileIsADirectory_Reported()
    {
        var config = WriteMain(MainYaml);
        Write("routes/r.yaml", RouteYaml());
        Directory.CreateDirectory(Path.Combine(_dir, "state", "skipped.jsonl"));

        Assert.Equal(
            new ConfigError(config, "state_dir", "state", $"holds a directory {Path.Combine(_dir, "state", "skipped.jsonl")} where kcp appends its skip records"),
            Assert.Single(ConfigLoader.TryLoad(config).Errors));
    }

    [Fact]
    public void Load_StateDirValidated_LeavesNothingBehind()
    {
        var config = WriteMain(MainYaml);
        Write("routes/r.yaml", RouteYaml());

        ConfigLoader.Load(config);

        Assert.False(Directory.Exists(Path.Combine(_dir, "state")));
        Assert.Equal(["kcp.yaml", "routes"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TryLoad_GroupTooLongForRecordFileName_ReportsGroupAndLimit_Issue7()
    {
        // 230 characters: 'default~' + 230 + '~orders~2147483647.offset' is 263 bytes.
        var group = new string('g', 230);
        Write("routes/r.yaml", RouteYaml(("group", group)));

        Assert.Equal(
            new ConfigError(Route("r.yaml"), "group", group, "too long: the partitions' local record file names ('{cluster}~{group}~{topic}~{partition}.offset', names percent-encoded) would be up to 263 bytes, over the file name limit of 255; shorten the group, cluster or topic name"),
            Assert.Single(Errors()));
    }

    [Theory]
    [InlineData("\"nul\\0a\"", "nul\\u0000a")]
    [InlineData("\"nul\\u0000b\"", "nul\\u0000b")]
    [InlineData("\"g\\e[31m\"", "g\\u001B[31m")]
    [InlineData("\"g\\x85\"", "g\\u0085")]
    [InlineData("\"g\\tx\"", "g\\tx")]
    public void TryLoad_GroupWithControlCharacter_RefusedShowingItEscaped_Issue23(string yamlValue, string shown)
    {
        Write("routes/r.yaml", RouteYaml(("group", yamlValue)));

        var error = Assert.Single(Errors());

        Assert.Equal((Route("r.yaml"), "group"), (error.File, error.Key));
        Assert.Equal($"key 'group' = '{shown}': must be a consumer group id without control characters (U+0000 to U+001F, U+007F to U+009F)", Describe(error));
        Assert.DoesNotContain(error.ToString(), char.IsControl);
    }

    [Fact]
    public void TryLoad_TopicWithNul_RefusedShowingItEscaped_Issue23()
    {
        Write("routes/r.yaml", RouteYaml(("topic", "\"orders\\0x\"")));

        Assert.Equal("key 'topic' = 'orders\\u0000x': must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'",
            Describe(Assert.Single(Errors())));
    }

    [Fact]
    public void TryLoad_RouteFileNameWithControlCharacter_RefusedShowingItEscaped_Issue23()
    {
        Write("routes/ok.yaml", RouteYaml());
        var file = Write("routes/r\u0001x.yaml", RouteYaml(("group", "other")));

        var error = Assert.Single(Errors());

        Assert.Equal(file, error.File);
        Assert.Equal($"{Path.Combine(_dir, "routes")}/r\\u0001x.yaml: route name 'r\\u0001x' must not contain control characters (U+0000 to U+001F, U+007F to U+009F); a route's name is its file name without extension",
            error.ToString());
    }

    [Fact]
    public void TryLoad_ClusterNameWithControlCharacter_Refused_Issue23()
    {
        var config = WriteMain("clusters:\n  \"a\\0b\": { bootstrap_servers: \"10.0.0.1:9092\" }\n  default: { bootstrap_servers: \"10.0.0.1:9092\" }\n");
        Write("routes/r.yaml", RouteYaml());

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal("key 'clusters.a\\u0000b': a cluster name must not contain control characters (U+0000 to U+001F, U+007F to U+009F)", Describe(error));
    }

    [Fact]
    public void TryLoad_GroupShortButEncodedTooLong_Reported_Issue7()
    {
        // 80 characters that each take 9 bytes once percent-encoded (%E2%82%AC).
        var group = new string('€', 80);
        Write("routes/r.yaml", RouteYaml(("group", group)));

        Assert.Equal("group", Assert.Single(Errors()).Key);
    }

    [Fact]
    public void Load_LongestGroupThatFits_Accepted()
    {
        // 'default~' (8) + group + '~orders~2147483647.offset' (25) = 255.
        Write("routes/r.yaml", RouteYaml(("group", new string('g', 255 - 8 - 25))));

        Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes);
    }

    [Theory]
    [InlineData("routes_dir: routes\n", "key 'clusters': required key is missing; must be a mapping of cluster names to {bootstrap_servers, consumer_conf, schema_registry}")]
    [InlineData("clusters: {}\n", "key 'clusters': must define at least one cluster")]
    [InlineData("clusters: [a]\n", "key 'clusters': must be a mapping of cluster names to {bootstrap_servers, consumer_conf, schema_registry}, got a sequence")]
    [InlineData("clusters:\n  default: {}\n", "key 'clusters.default.bootstrap_servers': required key is missing; must be a non-empty string")]
    [InlineData("clusters:\n  default: 'a:9092'\n", "key 'clusters.default': must be a mapping with bootstrap_servers and optional consumer_conf, got a scalar")]
    [InlineData("clusters:\n  default: { bootstrap_server: 'a:9092', bootstrap_servers: 'a:9092' }\n", "key 'clusters.default.bootstrap_server': unknown key; did you mean 'bootstrap_servers'?")]
    [InlineData("clusters:\n  default: { bootstrap_servers: 'a:9092' }\nroutes_di: routes\n", "key 'routes_di': unknown key; did you mean 'routes_dir'?")]
    [InlineData("clusters:\n  default: { bootstrap_servers: 'a:9092' }\nstate_dir: kcp.yaml\n", "key 'state_dir' = 'kcp.yaml': must be a directory, but {dir}/kcp.yaml is a file")]
    public void TryLoad_MainFileError_Reported(string mainYaml, string expected)
    {
        var config = WriteMain(mainYaml);

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal(config, error.File);
        Assert.Equal(expected.Replace("{dir}", _dir, StringComparison.Ordinal), Describe(error));
    }

    [Fact]
    public void Load_ErrorsInSeveralFiles_ThrowsWithAllOfThem()
    {
        var config = WriteMain(MainYaml + "\nrouts_dir: x\n");
        Write("routes/a.yaml", RouteYaml(("port", "0"), ("retry_num", "1")));
        Write("routes/b.json", "{ \"topic\": ");
        Write("routes/c.yml", RouteYaml(("group", "other"), ("can_skip", "maybe")));

        var exception = Assert.Throws<ConfigException>(() => ConfigLoader.Load(config));

        Assert.Equal(
        [
            (config, "key 'routs_dir': unknown key; did you mean 'routes_dir'?"),
            (Route("a.yaml"), "key 'port' = '0': must be an integer from 1 to 65535"),
            (Route("a.yaml"), "key 'retry_num': unknown key; did you mean 'retry_nums'?"),
            (Route("b.json"), "cannot parse JSON at line 1, column 12: Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed."),
            (Route("c.yml"), "key 'can_skip' = 'maybe': must be true or false"),
        ], exception.Errors.Select(e => (e.File, Describe(e))));
        var lines = exception.Message.Split(Environment.NewLine);
        Assert.Equal("5 configuration error(s):", lines[0]);
        Assert.Equal(exception.Errors.Select(e => e.ToString()), lines[1..]);
        Assert.Matches(@"a\.yaml:[0-9]+:[0-9]+: key 'port' = '0': must be an integer from 1 to 65535$", lines[2]);
    }

    [Fact]
    public void TryLoad_SecretsInInvalidConf_NeverShown()
    {
        var config = WriteMain("""
            clusters:
              default:
                bootstrap_servers: a:9092
                consumer_conf: { sasl.password: ~, ssl.key.password: "hunter2", sasl.username: ~ }
            """);
        Write("routes/r.yaml", RouteYaml(("consumer_conf", "\"sasl.password=hunter2\""), ("port", "0")));

        var errors = ConfigLoader.TryLoad(config).Errors;

        Assert.Equal(
        [
            "key 'clusters.default.consumer_conf.sasl.password' = '***': must be a string, number or bool, got null",
            "key 'clusters.default.consumer_conf.sasl.username' = '~': must be a string, number or bool, got null",
            "key 'port' = '0': must be an integer from 1 to 65535",
            "key 'consumer_conf': must be a mapping of librdkafka property names to string, number or bool values, got a scalar",
        ], errors.Select(Describe));
        Assert.DoesNotContain("hunter2", new ConfigException(errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("consumer_conf", "group.id", "other", "key 'consumer_conf.group.id' = 'other': 'group.id' is set by kcp from the route key 'group'; remove it from consumer_conf")]
    [InlineData("consumer_conf", "Group.Id", "other", "key 'consumer_conf.Group.Id' = 'other': 'Group.Id' is set by kcp from the route key 'group'; remove it from consumer_conf")]
    [InlineData("consumer_conf", "bootstrap.servers", "x:9092", "key 'consumer_conf.bootstrap.servers' = 'x:9092': 'bootstrap.servers' is set by kcp from the bootstrap_servers of the route's cluster (clusters.<name>.bootstrap_servers); remove it from consumer_conf")]
    [InlineData("consumer_conf", "metadata.broker.list", "x:9092", "key 'consumer_conf.metadata.broker.list' = 'x:9092': 'metadata.broker.list' is set by kcp from the bootstrap_servers of the route's cluster (clusters.<name>.bootstrap_servers); remove it from consumer_conf")]
    [InlineData("consumer_conf", "enable.auto.commit", "true", "key 'consumer_conf.enable.auto.commit' = 'true': 'enable.auto.commit' is set by kcp (always false): an offset is stored and committed only after its message was delivered or skipped; remove it from consumer_conf")]
    [InlineData("consumer_conf", "enable.auto.offset.store", "false", "key 'consumer_conf.enable.auto.offset.store' = 'false': 'enable.auto.offset.store' is set by kcp (always false): an offset is stored and committed only after its message was delivered or skipped; remove it from consumer_conf")]
    [InlineData("consumer_conf", "enable.partition.eof", "true", "key 'consumer_conf.enable.partition.eof' = 'true': 'enable.partition.eof' is set by kcp (always false): the consume loop has no use for end-of-partition events; remove it from consumer_conf")]
    [InlineData("consumer_topic_conf", "auto.commit.enable", "true", "key 'consumer_topic_conf.auto.commit.enable' = 'true': 'auto.commit.enable' is set by kcp (always false): an offset is stored and committed only after its message was delivered or skipped; remove it from consumer_topic_conf")]
    [InlineData("consumer_topic_conf", "group.id", "\"\"", "key 'consumer_topic_conf.group.id' = '': 'group.id' is set by kcp from the route key 'group'; remove it from consumer_topic_conf")]
    public void TryLoad_ReservedPropertyInRouteConf_ReportsThatKcpSetsIt(string key, string property, string value, string expected)
    {
        Write("routes/r.yaml", RouteYaml((key, $"{{ fetch.wait.max.ms: 50, {property}: {value} }}")));

        var error = Assert.Single(Errors());

        Assert.Equal(Route("r.yaml"), error.File);
        Assert.Equal(expected, Describe(error));
    }

    [Fact]
    public void TryLoad_ReservedPropertiesInClusterConf_EachReportedWithClusterKey()
    {
        var config = WriteMain("""
            clusters:
              eu:
                bootstrap_servers: a:9092
                consumer_conf: { bootstrap.servers: "b:9092", enable.auto.commit: true, group.id: g, client.id: ok }
            """);

        var errors = ConfigLoader.TryLoad(config).Errors;

        Assert.All(errors, e => Assert.Equal(config, e.File));
        Assert.Equal(
        [
            "key 'clusters.eu.consumer_conf.bootstrap.servers' = 'b:9092': 'bootstrap.servers' is set by kcp from 'clusters.eu.bootstrap_servers'; remove it from consumer_conf",
            "key 'clusters.eu.consumer_conf.enable.auto.commit' = 'true': 'enable.auto.commit' is set by kcp (always false): an offset is stored and committed only after its message was delivered or skipped; remove it from consumer_conf",
            "key 'clusters.eu.consumer_conf.group.id' = 'g': 'group.id' is set by kcp from the route key 'group'; remove it from consumer_conf",
        ], errors.Select(Describe));
    }

    [Theory]
    [InlineData("consumer_conf", "fetch.wait.max.msec", "50", "key 'consumer_conf.fetch.wait.max.msec' = '50': rejected by librdkafka: No such configuration property: \"fetch.wait.max.msec\"")]
    [InlineData("consumer_conf", "fetch.wait.max.ms", "soon", "key 'consumer_conf.fetch.wait.max.ms' = 'soon': rejected by librdkafka: Invalid value for configuration property \"fetch.wait.max.ms\"")]
    [InlineData("consumer_conf", "session.timeout.ms", "-1", "key 'consumer_conf.session.timeout.ms' = '-1': rejected by librdkafka: Configuration property \"session.timeout.ms\" value -1 is outside allowed range 1..3600000")]
    [InlineData("consumer_topic_conf", "auto.offset.reset", "sometime", "key 'consumer_topic_conf.auto.offset.reset' = 'sometime': rejected by librdkafka: Invalid value \"sometime\" for configuration property \"auto.offset.reset\"")]
    public void TryLoad_RouteConfRejectedByLibrdkafka_ReportsPropertyValueAndReason_Issue7(string key, string property, string value, string expected)
    {
        Write("routes/r.yaml", RouteYaml((key, $"{{ {property}: {value} }}")));

        var error = Assert.Single(Errors());

        Assert.Equal(Route("r.yaml"), error.File);
        Assert.Equal(expected, Describe(error));
    }

    [Fact]
    public void TryLoad_ClusterConfRejectedByLibrdkafka_ReportsClusterKey_Issue7()
    {
        var config = WriteMain("clusters:\n  eu:\n    bootstrap_servers: a:9092\n    consumer_conf: { security.protocol: carrier-pigeon }\n");
        Write("routes/r.yaml", RouteYaml(("cluster", "eu")));

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal(config, error.File);
        Assert.Equal("key 'clusters.eu.consumer_conf.security.protocol' = 'carrier-pigeon': rejected by librdkafka: Invalid value \"carrier-pigeon\" for configuration property \"security.protocol\"", Describe(error));
    }

    [Fact]
    public void TryLoad_SecretRejectedByLibrdkafka_ValueNeverShown_Issue7()
    {
        Write("routes/r.yaml", RouteYaml(("consumer_conf", "{ sasl.oauthbearer.method: hunter2 }")));

        var error = Assert.Single(Errors());

        Assert.Equal(("consumer_conf.sasl.oauthbearer.method", "***"), (error.Key, error.Value));
        Assert.StartsWith("rejected by librdkafka: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoad_PasswordPastedIntoAnotherProperty_HiddenInValueAndReason_Issue7()
    {
        Write("routes/r.yaml", RouteYaml(("consumer_conf", "{ sasl.password: hunter2-secret, security.protocol: hunter2-secret }")));

        Assert.Equal(
            "key 'consumer_conf.security.protocol' = '***': rejected by librdkafka: Invalid value \"***\" for configuration property \"security.protocol\"",
            Describe(Assert.Single(Errors())));
    }

    [Fact]
    public void TryLoad_PropertiesLibrdkafkaRefusesTogether_ReportedForTheRoute_Issue7()
    {
        // Each is valid alone; librdkafka refuses the pair only when a client is created.
        Write("routes/r.yaml", RouteYaml(("consumer_conf", "{ fetch.max.bytes: 1000, message.max.bytes: 2000 }")));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = Assert.Single(Errors());

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.ElapsedMilliseconds} ms");
        Assert.Equal((Route("r.yaml"), "consumer_conf", null), (error.File, error.Key, error.Value));
        Assert.StartsWith("librdkafka refuses the route's consumer settings (cluster 'default' consumer_conf, then this file's consumer_conf and consumer_topic_conf): ", error.Message, StringComparison.Ordinal);
        Assert.Contains("fetch.max.bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NonReservedPropertiesNearReservedNames_Accepted()
    {
        Write("routes/r.yaml", RouteYaml(("consumer_conf", "{ group.instance.id: i1, auto.commit.interval.ms: 100, group.protocol: classic }")));

        var route = Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes);

        Assert.Equal(["auto.commit.interval.ms", "group.instance.id", "group.protocol"], route.ConsumerConf.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("ssl.key.password", true)]
    [InlineData("sasl.password", true)]
    [InlineData("SASL.PASSWORD", true)]
    [InlineData("sasl.oauthbearer.config", true)]
    [InlineData("sasl.oauthbearer.client.secret", true)]
    [InlineData("ssl.key.pem", true)]
    [InlineData("api_token", true)]
    [InlineData("sasl.username", false)]
    [InlineData("auto.offset.reset", false)]
    public void SecretRedactor_IsSecretKey_MatchesSecretProperties(string key, bool secret)
    {
        Assert.Equal(secret, SecretRedactor.IsSecretKey(key));
        Assert.Equal(secret ? "***" : "v", SecretRedactor.Redact(key, "v"));
    }

    [Theory]
    [InlineData("/srv/kcp", "/srv/kcp/routes/orders.yaml", "routes/orders.yaml")]
    [InlineData("/srv/kcp", "/etc/kcp/kcp.yaml", "/etc/kcp/kcp.yaml")]
    [InlineData("/srv/kcp", "/srv/kcp-other/kcp.yaml", "/srv/kcp-other/kcp.yaml")]
    public void ConfigError_DisplayPath_RelativeOnlyUnderCurrentDirectory(string currentDir, string path, string expected)
    {
        Assert.Equal(expected, ConfigError.DisplayPath(path, currentDir));
    }

    [Fact]
    public void ConfigError_ToString_NamesFileKeyValueAndMessage()
    {
        var error = new ConfigError("/nowhere/routes/orders.yaml", "retry_nums", "-1", "must be an integer from 0 to 2147483647");

        Assert.Equal("/nowhere/routes/orders.yaml: key 'retry_nums' = '-1': must be an integer from 0 to 2147483647", error.ToString());
        Assert.Equal("/nowhere/kcp.yaml: config file not found", new ConfigError("/nowhere/kcp.yaml", null, null, "config file not found").ToString());        Assert.Equal("/nowhere/routes/orders.yaml:9:13: key 'retry_nums' = '-1': must be an integer from 0 to 2147483647", (error with { Line = 9, Column = 13 }).ToString());
    }

    [Fact]
    public void Load_ThroughputKeysAbsent_SyncFormBodyNoBatchingWithDocumentedDefaults()
    {
        Write("routes/r.yaml", RouteYaml());

        var route = Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes);

        Assert.Equal(0, route.Delivery.AsyncConcurrency);
        Assert.Equal(DeliveryOrdering.Key, route.Delivery.Ordering);
        Assert.Equal(10_000, route.Delivery.MaxPending);
        Assert.Equal(RequestFormat.Form, route.Delivery.Format);
        Assert.Equal("application/octet-stream", route.Delivery.ContentType);
        Assert.Equal(1, route.Delivery.BatchSize);
        Assert.Equal(5, route.Delivery.BatchLingerMs);
        Assert.Equal("sync; format form; max_pending 10000", route.DescribeDelivery());
    }

    [Fact]
    public void Load_ThroughputKeysSet_ReadsEveryValue()
    {
        Write("routes/a.yaml", RouteYaml(("group", "g1"), ("async_concurrency", "64"), ("ordering", "none"), ("max_pending", "1000000"),
            ("format", "json"), ("batch_size", "10000"), ("batch_linger_ms", "60000")));
        Write("routes/b.yaml", RouteYaml(("group", "g2"), ("async_concurrency", "8"), ("ordering", "KEY"), ("max_pending", "1"),
            ("format", "raw"), ("content_type", "\"text/plain; charset=utf-8\"")));

        var routes = ConfigLoader.Load(WriteMain(MainYaml)).Routes;

        var a = routes[0];
        Assert.Equal((64, DeliveryOrdering.None, 1_000_000, RequestFormat.Json, 10_000, 60_000), (a.Delivery.AsyncConcurrency, a.Delivery.Ordering, a.Delivery.MaxPending, a.Delivery.Format, a.Delivery.BatchSize, a.Delivery.BatchLingerMs));
        Assert.Equal("async 64 ordering none; format json; max_pending 1000000; batch 10000 linger 60000 ms", a.DescribeDelivery());
        var b = routes[1];
        Assert.Equal((8, DeliveryOrdering.Key, 1, RequestFormat.Raw, "text/plain; charset=utf-8"), (b.Delivery.AsyncConcurrency, b.Delivery.Ordering, b.Delivery.MaxPending, b.Delivery.Format, b.Delivery.ContentType));
    }

    [Theory]
    [InlineData(null, 20_000)]
    [InlineData("0", 0)]
    [InlineData("100000000", 100_000_000)]
    public void Load_MaxUncommitted_DefaultAndBounds_Issue23(string? value, int expected)
    {
        Write("routes/r.yaml", value is null ? RouteYaml() : RouteYaml(("max_uncommitted", value)));

        Assert.Equal(expected, Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Offsets.MaxUncommitted);
    }

    [Theory]
    [InlineData("-1", "key 'max_uncommitted' = '-1': must be an integer from 0 to 100000000")]
    [InlineData("100000001", "key 'max_uncommitted' = '100000001': must be an integer from 0 to 100000000")]
    public void TryLoad_MaxUncommittedOutOfRange_ReportsKeyValueAndAllowedValues_Issue23(string value, string expected)
    {
        Write("routes/r.yaml", RouteYaml(("max_uncommitted", value)));

        Assert.Equal(expected, Describe(Assert.Single(Errors())));
    }

    [Theory]
    [InlineData("ordering", "partition", "key 'ordering' = 'partition': must be one of: key, none")]
    [InlineData("format", "xml", "key 'format' = 'xml': must be one of: form, json, raw, cloudevents")]
    [InlineData("max_pending", "0", "key 'max_pending' = '0': must be an integer from 1 to 1000000")]
    [InlineData("max_pending", "1000001", "key 'max_pending' = '1000001': must be an integer from 1 to 1000000")]
    [InlineData("batch_size", "0", "key 'batch_size' = '0': must be an integer from 1 to 10000")]
    [InlineData("batch_linger_ms", "-1", "key 'batch_linger_ms' = '-1': must be an integer from 0 to 60000")]
    public void TryLoad_ThroughputKeyOutOfRange_ReportsKeyValueAndAllowedValues(string key, string value, string expected)
    {
        Write("routes/r.yaml", RouteYaml((key, value)));

        Assert.Equal(expected, Describe(Assert.Single(Errors())));
    }

    [Theory]
    [InlineData("ordering: none", "key 'ordering' = 'none': applies only with async_concurrency > 0; sync delivery (async_concurrency 0) is always in partition order")]
    [InlineData("content_type: text/plain", "key 'content_type' = 'text/plain': applies only with format: raw; form, json and cloudevents set their own Content-Type")]
    [InlineData("format: raw\ncontent_type: \"not a type\"", "key 'content_type' = 'not a type': must be a media type such as application/octet-stream or text/plain; charset=utf-8")]
    [InlineData("format: raw\ncontent_type: \"text/plain; charset=\\\"ü\\\"\"", "key 'content_type' = 'text/plain; charset=\"ü\"': must be a media type such as application/octet-stream or text/plain; charset=utf-8")]
    [InlineData("format: raw\ncontent_type: \"text/plain\\r\\nX-Evil: 1\"", "key 'content_type' = 'text/plain\\r\\nX-Evil: 1': must be a media type such as application/octet-stream or text/plain; charset=utf-8")]
    [InlineData("batch_size: 10", "key 'batch_size' = '10': must be 1 unless format is json or cloudevents: a batch is sent as a JSON array of envelopes or of CloudEvents")]
    [InlineData("format: raw\nbatch_size: 10", "key 'batch_size' = '10': must be 1 unless format is json or cloudevents: a batch is sent as a JSON array of envelopes or of CloudEvents")]
    [InlineData("format: json\nbatch_size: 11\nmax_pending: 10", "key 'batch_size' = '11': must not exceed max_pending (10): a batch is made of one partition's pending messages")]
    [InlineData("format: json\nbatch_linger_ms: 5", "key 'batch_linger_ms' = '5': applies only with batch_size > 1")]
    public void TryLoad_ThroughputKeyWithoutEffect_ReportsWhyAndWhatItNeeds(string extraYaml, string expected)
    {
        Write("routes/r.yaml", RouteYaml() + extraYaml + "\n");

        var error = Assert.Single(Errors());

        Assert.Equal(Route("r.yaml"), error.File);
        Assert.Equal(expected, Describe(error));
    }

    [Theory]
    [InlineData("127.0.0.1:9999", "'127.0.0.1:9999' includes a port; write the host alone here and the port in the key 'port' (host: 127.0.0.1, port: 9999)")]
    [InlineData("a.example,b.example:8080", "'b.example:8080' includes a port; write the host alone here and the port in the key 'port' (host: b.example, port: 8080)")]
    [InlineData("[::1]:9999", "'[::1]:9999' includes a port; write the host alone here and the port in the key 'port' (host: [::1], port: 9999)")]
    [InlineData("user:pw@127.0.0.1", "'user:pw@127.0.0.1' holds user information ('user:password@'); write the bare host: a host entry cannot carry credentials")]
    [InlineData("127.0.0.1?b", "'127.0.0.1?b' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'")]
    [InlineData("127.0.0.1#b", "'127.0.0.1#b' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'")]
    [InlineData("127.0.0.1/x", "'127.0.0.1/x' is not a bare host: a host entry has no path, query ('?') or fragment ('#'); the request path goes in 'url'")]
    [InlineData("::1", "'::1' is an IPv6 address; write it in brackets: [::1]")]
    [InlineData("[::g]", "'[::g]' is not a valid IPv6 address in brackets, e.g. [::1]")]
    [InlineData("1.2.3", "'1.2.3' is not a valid IPv4 address (four numbers from 0 to 255 separated by '.')")]
    [InlineData("300.1.1.1", "'300.1.1.1' is not a valid IPv4 address (four numbers from 0 to 255 separated by '.')")]
    [InlineData("a..b", "'a..b' is not a valid host name: labels of 1 to 63 letters, digits, '-' or '_' separated by '.', at most 253 characters")]
    [InlineData("-a.example", "'-a.example' is not a valid host name: labels of 1 to 63 letters, digits, '-' or '_' separated by '.', at most 253 characters")]
    [InlineData("a:b", "'a:b' is not a host name or IP address")]
    public void TryLoad_HostNotABareHost_ReportsWhatToWriteInstead_Issue7(string host, string message)
    {
        Write("routes/r.yaml", RouteYaml(("host", $"\"{host}\"")));

        Assert.Equal(new ConfigError(Route("r.yaml"), "host", host, message), Assert.Single(Errors()));
    }

    [Theory]
    [InlineData("\"a b\"", "a b")]
    [InlineData("\"a\\tb\"", "a\tb")]
    public void TryLoad_HostWithWhitespace_ReportsGenericRule(string yaml, string value)
    {
        Write("routes/r.yaml", RouteYaml(("host", yaml)));

        Assert.Equal(new ConfigError(Route("r.yaml"), "host", value, "must be one or more host names or IP addresses separated by ',', without empty entries, scheme or path"), Assert.Single(Errors()));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("localhost")]
    [InlineData("orders-1.svc.cluster.local.")]
    [InlineData("my_host.internal")]
    [InlineData("bücher.example")]
    public void Load_BareHosts_Accepted(string host)
    {
        Write("routes/r.yaml", RouteYaml(("host", $"\"{host}\"")));

        Assert.Equal([host], Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Endpoint.Hosts);
    }

    [Theory]
    [InlineData("\"/a b\"", "/a b", "must not contain spaces or control characters; write them percent-encoded (a space is %20)")]
    [InlineData("\"/a\\r\\nHost: evil\"", "/a\r\nHost: evil", "must not contain spaces or control characters; write them percent-encoded (a space is %20)")]
    [InlineData("\"/a\\x01\"", "/a\x01", "must not contain spaces or control characters; write them percent-encoded (a space is %20)")]
    [InlineData("/consume?src=kafka", "/consume?src=kafka", "must be a path without query ('?') or fragment ('#'): the path is sent as written and '?' or '#' would be percent-encoded into it")]
    [InlineData("\"/consume#x\"", "/consume#x", "must be a path without query ('?') or fragment ('#'): the path is sent as written and '?' or '#' would be percent-encoded into it")]
    [InlineData("/café", "/café", "must be ASCII; write 'é' percent-encoded as its UTF-8 bytes (é is %C3%A9)")]
    [InlineData("\"/a|b\"", "/a|b", "must hold only characters allowed in a URL path; write '|' percent-encoded as %7C")]
    [InlineData("\"/a\\\\b\"", "/a\\b", "must hold only characters allowed in a URL path; write '\\' percent-encoded as %5C")]
    [InlineData("/100%", "/100%", "has a '%' that does not start a percent-encoded byte (%XX); write a literal '%' as %25")]
    [InlineData("/a%zz", "/a%zz", "has a '%' that does not start a percent-encoded byte (%XX); write a literal '%' as %25")]
    [InlineData("/a/../b", "/a/../b", "would be sent as '/b'; write the path in the form it is sent ('.' and '..' segments are removed, other characters percent-encoded)")]
    [InlineData("/a/./b", "/a/./b", "would be sent as '/a/b'; write the path in the form it is sent ('.' and '..' segments are removed, other characters percent-encoded)")]
    public void TryLoad_UrlNotSentAsWritten_Reported_Issue7(string yaml, string value, string message)
    {
        Write("routes/r.yaml", RouteYaml(("url", yaml)));

        Assert.Equal(new ConfigError(Route("r.yaml"), "url", value, message), Assert.Single(Errors()));
    }

    [Theory]
    [InlineData("/inner/mqdemo/test")]
    [InlineData("/a%20b/c%2Fd")]
    [InlineData("/a:b@c!$&'()*+,;=~_-.")]
    [InlineData("/")]
    public void Load_OriginFormPaths_KeptAsWritten(string url)
    {
        Write("routes/r.yaml", RouteYaml(("url", $"\"{url}\"")));

        Assert.Equal(url, Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Endpoint.Url);
    }

    [Theory]
    [InlineData("\"a b\"", "a b")]
    [InlineData("\"orders.internal\\r\\nX-Evil: 1\"", "orders.internal\r\nX-Evil: 1")]
    [InlineData("\"orders.internal\\t\"", "orders.internal\t")]
    [InlineData("user@orders.internal", "user@orders.internal")]
    [InlineData("orders.internal/x", "orders.internal/x")]
    [InlineData("orders.internal:99999", "orders.internal:99999")]
    [InlineData("orders.internal:http", "orders.internal:http")]
    [InlineData("a,b", "a,b")]
    [InlineData("a..b", "a..b")]
    [InlineData("bücher.example", "bücher.example")]
    public void TryLoad_DomainNotAHostHeader_Reported_Issue7(string yaml, string value)
    {
        Write("routes/r.yaml", RouteYaml(("domain", yaml)));

        Assert.Equal(
            new ConfigError(Route("r.yaml"), "domain", value, "must be a host name or IP address with an optional port, e.g. orders.internal or orders.internal:8080, without spaces or control characters: it is sent as the Host header"),
            Assert.Single(Errors()));
    }

    [Theory]
    [InlineData("orders.internal")]
    [InlineData("orders.internal:8080")]
    [InlineData("10.0.0.5")]
    [InlineData("[::1]:8080")]
    public void Load_DomainHostHeaders_Accepted(string domain)
    {
        Write("routes/r.yaml", RouteYaml(("domain", $"\"{domain}\"")));

        Assert.Equal(domain, Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Endpoint.Domain);
    }

    [Theory]
    [InlineData("\"a b\"", "a b")]
    [InlineData("bestellungen-ä", "bestellungen-ä")]
    [InlineData("\".\"", ".")]
    [InlineData("\"..\"", "..")]
    [InlineData("orders/eu", "orders/eu")]
    public void TryLoad_TopicKafkaDoesNotAllow_Reported_Issue7(string yaml, string value)
    {
        Write("routes/r.yaml", RouteYaml(("topic", yaml)));

        Assert.Equal(
            new ConfigError(Route("r.yaml"), "topic", value, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'"),
            Assert.Single(Errors()));
    }

    [Fact]
    public void TryLoad_TopicOf250Characters_Reported_Issue7()
    {
        var topic = new string('t', 250);
        Write("routes/r.yaml", RouteYaml(("topic", topic)));

        Assert.Contains(new ConfigError(Route("r.yaml"), "topic", topic, "must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'"), Errors());
    }

    [Theory]
    [InlineData("\"kafka-1:9092\\tkafka-2:9092\"", "kafka-1:9092\tkafka-2:9092")]
    [InlineData("kafka-1:http", "kafka-1:http")]
    [InlineData("kafka-1:99999", "kafka-1:99999")]
    [InlineData("http://kafka-1:9092", "http://kafka-1:9092")]
    [InlineData("\"kafka-1:9092,user@kafka-2:9092\"", "user@kafka-2:9092")]
    public void TryLoad_BootstrapServersNotHostPortList_Reported_Issue7(string yaml, string badEntry)
    {
        var config = WriteMain($"clusters:\n  default:\n    bootstrap_servers: {yaml}\n");
        Write("routes/r.yaml", RouteYaml());

        var error = Assert.Single(ConfigLoader.TryLoad(config).Errors);

        Assert.Equal("clusters.default.bootstrap_servers", error.Key);
        Assert.Equal($"must be host:port entries separated by ',', e.g. 10.0.0.1:9092,kafka-2.internal:9092 (an IPv6 address in brackets, [::1]:9092); '{badEntry}' is not one", error.Message);
    }

    [Theory]
    [InlineData("10.0.0.1:9092,10.0.0.2:9092")]
    [InlineData("kafka-1, kafka-2:9093")]
    [InlineData("kafka-1:9092 kafka-2:9092,,kafka-3")]
    [InlineData("SASL_SSL://kafka-1.internal:9093")]
    [InlineData("[::1]:9092")]
    public void Load_BootstrapServersLists_Accepted(string servers)
    {
        Write("routes/r.yaml", RouteYaml());

        Assert.Equal(servers, ConfigLoader.Load(WriteMain($"clusters:\n  default:\n    bootstrap_servers: \"{servers}\"\n")).Clusters["default"].BootstrapServers);
    }

    [Fact]
    public void TryLoad_YamlAliasBomb_RefusedFastWithoutExpanding_Issue7()
    {
        // Nine levels of anchors of nine aliases each: under 1 KB that would expand to 9^9 (387 million) scalars.
        var bomb = new System.Text.StringBuilder(RouteYaml()).Append("l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
        for (var level = 1; level <= 9; level++)
            bomb.Append(System.Globalization.CultureInfo.InvariantCulture, $"l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
        Write("routes/bomb.yaml", bomb.ToString());
        Assert.InRange(new FileInfo(Route("bomb.yaml")).Length, 500, 1200);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = Assert.Single(Errors());

        // Expanding it would take minutes and gigabytes; the bound leaves room for a busy machine's first parse.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.ElapsedMilliseconds} ms");
        Assert.Equal(Route("bomb.yaml"), error.File);
        Assert.Matches(@"^cannot parse YAML at line \d+, column \d+: the document expands to more than 100000 nodes through aliases \(an alias bomb\?\); a config file may hold at most 100000$", error.Message);
    }

    [Fact]
    public void TryLoad_MoreNodesThanTheBudgetWithoutAliases_Reported()
    {
        Write("routes/r.yaml", RouteYaml() + string.Concat(Enumerable.Range(0, 101).Select(i => $"k{i}: [{string.Join(",", Enumerable.Repeat("x", 1000))}]\n")));

        Assert.Matches(@"^cannot parse YAML at line \d+, column \d+: the document holds more than 100000 nodes; a config file may hold at most 100000$", Assert.Single(Errors()).Message);
    }

    [Fact]
    public void Load_YamlAliasesWithinBudget_ResolvedToTheAnchoredValue()
    {
        Write("routes/r.yaml", RouteYaml(("topic", "&t orders"), ("consumer_conf", "&c { fetch.wait.max.ms: 50 }"), ("consumer_topic_conf", "*c"), ("group", "*t")));

        var route = Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes);

        Assert.Equal(("orders", "orders"), (route.Topic, route.Group));
        Assert.Equal(route.ConsumerConf, route.ConsumerTopicConf);
    }

    [Theory]
    [InlineData("a: &x [*x]\n", "cannot parse YAML at line 1, column 8: alias *x does not name a complete anchor defined before it")]
    [InlineData("a: *nowhere\n", "cannot parse YAML at line 1, column 4: alias *nowhere does not name a complete anchor defined before it")]
    public void TryLoad_YamlAliasWithoutCompleteAnchor_Reported_Issue7(string yaml, string message)
    {
        Write("routes/r.yaml", yaml);

        Assert.Equal(message, Assert.Single(Errors()).Message);
    }

    [Fact]
    public void TryLoad_DeepNesting_ReportedWithPositionAndKey()
    {
        Write("routes/r.yaml", RouteYaml(("consumer_conf", new string('[', 40) + new string(']', 40))));

        Assert.Equal("cannot parse YAML at line 13, column 48: nested deeper than 32 levels (under 'consumer_conf')", Assert.Single(Errors()).Message);
    }

    [Theory]
    [InlineData("[", "cannot parse YAML at line 1, column 36: nested deeper than 32 levels (under 'a')")]
    [InlineData("{a: ", "cannot parse YAML at line 1, column 129: nested deeper than 32 levels (under 'a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a')")]
    [InlineData("- ", "cannot parse YAML at line 1, column 4: ")]
    public void TryLoad_MegabyteOfNesting_RefusedFast_Issue7(string opener, string message)
    {
        var text = new System.Text.StringBuilder("a: ");
        while (text.Length + opener.Length < ConfigFile.MaxBytes - 1)
            text.Append(opener);
        Write("routes/r.yaml", text.Append('\n').ToString());
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = Assert.Single(Errors());

        // A parser that recursed through it would overflow the stack or take minutes; the bound leaves room for a busy machine.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.ElapsedMilliseconds} ms");
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoad_FileOverOneMiB_Refused_Issue7()
    {
        Write("routes/big.yaml", RouteYaml() + "# " + new string('x', ConfigFile.MaxBytes) + "\n");

        Assert.Equal(new ConfigError(Route("big.yaml"), null, null, "is larger than 1048576 bytes (1 MiB), the limit for a config file"), Assert.Single(Errors()));
    }

    [Fact]
    public void Load_FileOfExactlyOneMiB_Accepted()
    {
        var yaml = RouteYaml() + "# ";
        Write("routes/r.yaml", yaml + new string('x', ConfigFile.MaxBytes - yaml.Length - 1) + "\n");
        Assert.Equal(ConfigFile.MaxBytes, new FileInfo(Route("r.yaml")).Length);

        Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes);
    }

    [Fact]
    public void TryLoad_RouteFileNotUtf8_ReportsBytePositionLineAndColumn_Issue7()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(RouteYaml() + "domain: caf");
        File.WriteAllBytes(Route("latin1.yaml"), [.. bytes, 0xE9, (byte)'\n']);

        Assert.Equal(
            new ConfigError(Route("latin1.yaml"), null, null, $"is not valid UTF-8: byte 0xE9 at byte offset {bytes.Length} (line 13, column 12); a config file must be UTF-8"),
            Assert.Single(Errors()));
    }

    [Fact]
    public void Load_Utf8WithByteOrderMark_Accepted()
    {
        File.WriteAllBytes(Route("r.yaml"), [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(RouteYaml())]);

        Assert.Equal("orders", Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Topic);
    }

    [Fact]
    public void TryLoad_DirectoryNamedLikeRouteFile_Reported_Issue7()
    {
        Directory.CreateDirectory(Route("dir.yaml"));

        Assert.Equal(new ConfigError(Route("dir.yaml"), null, null, "is a directory, not a regular file; a config file must be a regular file"), Assert.Single(Errors()));
    }

    [Fact]
    public async Task TryLoad_FifoNamedLikeRouteFile_ReportedWithoutBlocking_Issue7()
    {
        MakeFifo(Route("pipe.yaml"));

        // Opening a FIFO for reading blocks until a writer comes; the loader must not wait for one.
        var load = Task.Run(Errors);
        var error = Assert.Single(await load.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(new ConfigError(Route("pipe.yaml"), null, null, "is a FIFO (named pipe), not a regular file; a config file must be a regular file"), error);
    }

    [Fact]
    public void TryLoad_MainFileIsCharacterDevice_Reported_Issue7()
    {
        var (config, errors) = ConfigLoader.TryLoad("/dev/zero");

        Assert.Null(config);
        Assert.Equal(new ConfigError("/dev/zero", null, null, "is a character device, not a regular file; a config file must be a regular file"), Assert.Single(errors));
    }

    [Fact]
    public void Load_SymlinkToRouteFile_Followed()
    {
        Write("elsewhere/r.yaml", RouteYaml());
        File.CreateSymbolicLink(Route("r.yaml"), Path.Combine(_dir, "elsewhere", "r.yaml"));

        Assert.Equal("r", Assert.Single(ConfigLoader.Load(WriteMain(MainYaml)).Routes).Name);
    }

    internal static void MakeFifo(string path)
    {
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit(10_000);
        Assert.True(mkfifo.HasExited && mkfifo.ExitCode == 0, $"mkfifo {path} failed");
    }

    private static string RouteYaml(params (string Key, string? Value)[] overrides)
    {
        var keys = RequiredRouteKeys.Select(k => (k.Key, (string?)k.Value)).ToList();
        foreach (var (key, value) in overrides)
        {
            var index = keys.FindIndex(k => k.Key == key);
            if (index >= 0)
                keys[index] = (key, value);
            else
                keys.Add((key, value));
        }

        return string.Concat(keys.Where(k => k.Item2 is not null).Select(k => $"{k.Key}: {k.Item2}\n"));
    }

    // The error without its file part, as the user reads it after the path.
    private static string Describe(ConfigError error) =>
        error.ToString()[(error.Location.Length + ": ".Length)..];

    private string Route(string file) => Path.Combine(_dir, "routes", file);

    private IReadOnlyList<ConfigError> Errors()
    {
        var config = Path.Combine(_dir, "kcp.yaml");
        if (!File.Exists(config))
            WriteMain(MainYaml);
        var (loaded, errors) = ConfigLoader.TryLoad(config);
        Assert.Null(loaded);
        return errors;
    }

    private string WriteMain(string content) => Write("kcp.yaml", content);

    private string Write(string relativePath, string content)
    {
        var path = Path.Combine(_dir, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }
}
