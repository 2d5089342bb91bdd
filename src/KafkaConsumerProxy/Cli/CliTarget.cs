using System.CommandLine;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// Which running kcp an operational command (<c>status</c>, <c>skip</c>, <c>routes</c>, <c>reload</c>) talks to: by
/// default the one of the configuration (<c>--config</c>, else <c>$KCP_CONFIG</c>, else <c>./kcp.yaml</c>) through the
/// control socket in its state_dir; with <c>--admin-url URL</c> the one whose admin endpoint is at that URL, on this
/// machine or another (a pod), with the bearer token from <c>--token-file</c> or <c>$KCP_ADMIN_TOKEN</c>. Both reach
/// the same <c>/api/v1</c> API.
/// </summary>
internal sealed class CliTarget
{
    /// <summary>The environment variable holding the admin endpoint's bearer token, for <c>--admin-url</c>.</summary>
    public const string TokenVariable = "KCP_ADMIN_TOKEN";

    public Option<FileInfo> Config { get; } = CliApp.ConfigOption();

    public Option<Uri?> AdminUrl { get; } = new("--admin-url")
    {
        Description = "Talk to the kcp whose admin endpoint is at this URL (e.g. http://10.0.0.5:9464/) instead of the one of --config; token from --token-file or $" + TokenVariable,
        HelpName = "URL",
        CustomParser = ParseUrl,
    };

    public Option<FileInfo?> TokenFile { get; } = new("--token-file")
    {
        Description = "With --admin-url: the file holding the admin endpoint's bearer token (default: $" + TokenVariable + ")",
        HelpName = "FILE",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(AdminUrl);
        command.Options.Add(TokenFile);
        command.Validators.Add(result =>
        {
            if (result.GetResult(TokenFile) is not null && result.GetResult(AdminUrl) is null)
            {
                result.AddError("--token-file needs --admin-url (the control socket needs no token)");
            }
        });
    }

    /// <summary>
    /// Runs <paramref name="action"/> against the chosen kcp (against each one that answers when several share the
    /// state_dir) and returns the worst exit code.
    /// </summary>
    public async Task<int> WithClientAsync(ParseResult parse, Func<ControlClient, Task<int>> action)
    {
        if (parse.GetValue(AdminUrl) is { } url)
        {
            string? token;
            if (parse.GetValue(TokenFile) is { } file)
            {
                try
                {
                    token = File.ReadAllText(file.FullName).Trim();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"kcp: --token-file {file.FullName}: {ex.Message}");
                    return CliApp.ConfigError;
                }

                if (token.Length == 0)
                {
                    Console.Error.WriteLine($"kcp: --token-file {file.FullName} is empty");
                    return CliApp.ConfigError;
                }
            }
            else
            {
                token = Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } variable ? variable.Trim() : null;
            }

            using var client = ControlClient.ForAdmin(url, token);
            return await RunAsync(client, action).ConfigureAwait(false);
        }

        if (CliApp.ConfigFile(parse, Config) is not { } configFile)
        {
            return CliApp.ConfigError;
        }

        var (config, errors) = ConfigLoader.TryLoad(configFile.FullName);
        var stateDir = config?.StateDir ?? StateDirOf(configFile.FullName);
        if (stateDir is null)
        {
            Console.Error.WriteLine(new ConfigException(errors).Message);
            Console.Error.WriteLine("kcp: cannot find the running kcp's control socket: state_dir cannot be read from the configuration");
            return CliApp.ConfigError;
        }

        // Several kcp processes may share a state_dir: the operation goes to each one that answers.
        var sockets = new List<string>();
        foreach (var socket in ControlServer.SocketPaths(stateDir))
        {
            // The process's clock: the CLI is where it is chosen.
            if (await ControlServer.AnswersAsync(socket, TimeProvider.System).ConfigureAwait(false))
            {
                sockets.Add(socket);
            }
        }

        if (sockets.Count == 0)
        {
            Console.Error.WriteLine($"kcp: kcp is not running for this configuration (no kcp answers on {ControlServer.SocketPath(stateDir)}); for a kcp elsewhere give --admin-url");
            return CliApp.EnvironmentError;
        }

        var worst = 0;
        foreach (var socket in sockets)
        {
            if (sockets.Count > 1)
            {
                Console.Out.WriteLine($"== kcp on {socket}");
            }

            using var client = ControlClient.ForSocket(socket);
            worst = Math.Max(worst, await RunAsync(client, action).ConfigureAwait(false));
        }

        return worst;
    }

    private static async Task<int> RunAsync(ControlClient client, Func<ControlClient, Task<int>> action)
    {
        try
        {
            return await action(client).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ControlUnavailableException or ControlAccessException)
        {
            Console.Error.WriteLine($"kcp: {ex.Message}");
            return CliApp.EnvironmentError;
        }
        catch (ControlRequestException ex)
        {
            Console.Error.WriteLine($"kcp: {ex.Message}");
            return CliApp.Refused;
        }
    }

    private static Uri? ParseUrl(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (Uri.TryCreate(text, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps) && url.Query.Length == 0)
        {
            return url;
        }

        result.AddError($"--admin-url '{text}' is not an http or https URL such as http://10.0.0.5:9464/");
        return null;
    }

    /// <summary>
    /// state_dir as written in kcp.yaml (default <c>state</c>, relative to the file), for a configuration that does not
    /// validate: a route file being edited must not keep the operator from reaching the running kcp (or from asking it
    /// to reload, which reports the errors). Null when kcp.yaml itself cannot be read.
    /// </summary>
    private static string? StateDirOf(string configFile)
    {
        try
        {
            var yaml = new YamlDotNet.RepresentationModel.YamlStream();
            using (var reader = new StreamReader(configFile))
            {
                yaml.Load(reader);
            }

            var written = yaml.Documents.Count > 0
                && yaml.Documents[0].RootNode is YamlDotNet.RepresentationModel.YamlMappingNode root
                && root.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("state_dir"), out var node)
                && node is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { Length: > 0 } value }
                    ? value
                    : "state";
            return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(configFile)!, written));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            return null;
        }
    }
}
