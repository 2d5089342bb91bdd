using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// The client of a running kcp's <c>/api/v1</c> API (<see cref="RoutesApi"/>), reached either through its control
/// socket (<see cref="ControlServer"/>: HTTP over a Unix domain socket under state_dir, found from the configuration) or
/// through its admin endpoint (<c>--admin-url</c>, with a bearer token: a kcp on another machine or in a pod). Both
/// serve the same code, so every command means the same over either. Failures to reach kcp become
/// <see cref="ControlUnavailableException"/>, refused access <see cref="ControlAccessException"/>, refused requests
/// <see cref="ControlRequestException"/>, each with a message for the operator.
/// </summary>
internal sealed class ControlClient : IDisposable
{
    // An operation waits for in-flight deliveries (exec_timeout_ms) and group leaves; a reload for many of them.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);

    private readonly HttpClient _http;
    private readonly string? _socket;

    private ControlClient(HttpMessageHandler handler, Uri baseAddress, string where, string? socket, string? token)
    {
        _socket = socket;
        Where = where;
        _http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = RequestTimeout };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>Where the requests go, for messages: the socket's path or the admin endpoint's URL.</summary>
    public string Where { get; }

    /// <summary>A client of the control socket at <paramref name="socket"/>.</summary>
    public static ControlClient ForSocket(string socket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancel).ConfigureAwait(false);
                    return new NetworkStream(connection, ownsSocket: true);
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            },
        };
        return new ControlClient(handler, new Uri("http://kcp/"), socket, socket, token: null);
    }

    /// <summary>A client of the admin endpoint at <paramref name="adminUrl"/> (its base, such as <c>http://10.0.0.5:9464/</c>).</summary>
    public static ControlClient ForAdmin(Uri adminUrl, string? token)
    {
        var baseAddress = adminUrl.AbsoluteUri.EndsWith('/') ? adminUrl : new Uri(adminUrl.AbsoluteUri + "/");
        return new ControlClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }, baseAddress, baseAddress.AbsoluteUri, socket: null, token);
    }

    public Task<RoutesListing> ListAsync() => SendAsync<RoutesListing>(HttpMethod.Get, "api/v1/routes");

    public Task<RouteOperationResult> OperateAsync(RouteAction action, RouteSelector selector)
    {
        var verb = action.ToString().ToLowerInvariant();
        var path = selector.Route is { } route
            ? $"api/v1/routes/{Uri.EscapeDataString(route)}/{verb}"
            : selector.All
                ? $"api/v1/routes/{verb}?all=true"
                : $"api/v1/routes/{verb}?topic={Uri.EscapeDataString(selector.Topic ?? "")}" + (selector.Group is { } g ? $"&group={Uri.EscapeDataString(g)}" : "");
        return SendAsync<RouteOperationResult>(HttpMethod.Post, path);
    }

    public Task<RouteInfoListing> StatusAsync() => SendAsync<RouteInfoListing>(HttpMethod.Get, "api/v1/routes");

    public Task<RouteInfo> StatusAsync(string route) => SendAsync<RouteInfo>(HttpMethod.Get, $"api/v1/routes/{Uri.EscapeDataString(route)}");

    public Task<PartitionActionResult> SkipAsync(string route, int partition, long offset) =>
        SendAsync<PartitionActionResult>(HttpMethod.Post, $"api/v1/routes/{Uri.EscapeDataString(route)}/partitions/{partition}/skip?offset={offset}");

    public Task<ReloadResult> ReloadAsync() => SendAsync<ReloadResult>(HttpMethod.Post, "api/v1/reload");

    private async Task<T> SendAsync<T>(HttpMethod method, string path)
    {
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(method, path);
            response = await _http.SendAsync(request).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (_socket is not null && (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.ConnectionRefused } || !File.Exists(_socket)))
        {
            throw new ControlUnavailableException($"kcp is not running for this configuration (no kcp answers on {_socket})", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ControlUnavailableException($"cannot reach kcp at {Where}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex)
        {
            throw new ControlUnavailableException($"kcp at {Where} did not answer within {RequestTimeout.TotalMinutes:0} minutes", ex);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.StatusCode is HttpStatusCode.Unauthorized)
            {
                var reason = await ErrorOf(response).ConfigureAwait(false);
                var hint = _http.DefaultRequestHeaders.Authorization is null
                    ? "give the token of its admin.token_file in KCP_ADMIN_TOKEN or with --token-file"
                    : "the token given (KCP_ADMIN_TOKEN or --token-file) is not the one of its admin.token_file";
                throw new ControlAccessException($"kcp at {Where} refused the request ({status} {reason}): {hint}");
            }

            if (response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.MisdirectedRequest)
            {
                throw new ControlAccessException($"kcp at {Where} refused the request ({status}): {await ErrorOf(response).ConfigureAwait(false)}");
            }

            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Conflict)
            {
                throw new ControlRequestException(await ErrorOf(response).ConfigureAwait(false));
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new ControlUnavailableException($"kcp at {Where} answered {status}: {await ErrorOf(response).ConfigureAwait(false)}", null);
            }

            try
            {
                return await response.Content.ReadFromJsonAsync<T>(ControlJson.Options).ConfigureAwait(false)
                    ?? throw new ControlUnavailableException($"kcp at {Where} answered an empty body", null);
            }
            catch (JsonException ex)
            {
                throw new ControlUnavailableException($"the answer of {Where} is not kcp's API: {ex.Message}", ex);
            }
        }
    }

    /// <summary>The <c>error</c> of kcp's JSON error answer; otherwise (not kcp: a wrong URL) the status and its phrase.</summary>
    private async Task<string> ErrorOf(HttpResponseMessage response)
    {
        try
        {
            var error = await response.Content.ReadFromJsonAsync<ControlError>(ControlJson.Options).ConfigureAwait(false);
            if (error?.Error is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not kcp's answer.
        }

        return $"{(int)response.StatusCode} {response.ReasonPhrase} from {new Uri(_http.BaseAddress!, response.RequestMessage?.RequestUri?.PathAndQuery ?? "").AbsoluteUri}, which is not a kcp API answer; is the URL kcp's admin endpoint?";
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>kcp could not be reached (exit code 1).</summary>
internal sealed class ControlUnavailableException(string message, Exception? inner) : Exception(message, inner);

/// <summary>kcp refused access: no token, a wrong token, a user or origin it does not accept (exit code 1).</summary>
internal sealed class ControlAccessException(string message) : Exception(message);

/// <summary>kcp refused the request: no such route, nothing matches the selection, the message is not failing now (exit code 4).</summary>
internal sealed class ControlRequestException(string message) : Exception(message);
