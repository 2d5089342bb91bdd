using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using KafkaConsumerProxy.Admin;
using KafkaConsumerProxy.Routes;

namespace KafkaConsumerProxy.Cli;

/// <summary>
/// The client side of one control socket (<see cref="ControlServer"/>): HTTP over a Unix domain socket under
/// state_dir. Failures to reach kcp become <see cref="ControlUnavailableException"/> with a message
/// for the operator.
/// </summary>
internal sealed class ControlClient : IDisposable
{
    // An operation waits for in-flight deliveries (exec_timeout_ms) and group leaves; a reload for many of them.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);

    private readonly HttpClient _http;
    private readonly string _socket;

    public ControlClient(string socket)
    {
        _socket = socket;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socket), cancel).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://kcp/"), Timeout = RequestTimeout };
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
        catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.ConnectionRefused } || !File.Exists(_socket))
        {
            throw new ControlUnavailableException($"kcp is not running for this configuration (no kcp answers on {_socket})", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ControlUnavailableException($"cannot reach kcp on {_socket}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex)
        {
            throw new ControlUnavailableException($"kcp on {_socket} did not answer within {RequestTimeout.TotalMinutes:0} minutes", ex);
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Conflict)
            {
                var error = await response.Content.ReadFromJsonAsync<ControlError>(ControlJson.Options).ConfigureAwait(false);
                throw new ControlRequestException(error?.Error ?? response.ReasonPhrase ?? "refused");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new ControlUnavailableException($"kcp on {_socket} answered {(int)response.StatusCode} {response.ReasonPhrase}", null);
            }

            return await response.Content.ReadFromJsonAsync<T>(ControlJson.Options).ConfigureAwait(false)
                ?? throw new ControlUnavailableException($"kcp on {_socket} answered an empty body", null);
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>kcp could not be reached (exit code 1).</summary>
internal sealed class ControlUnavailableException(string message, Exception? inner) : Exception(message, inner);

/// <summary>kcp refused the request: no such route, nothing matches the selection (exit code 2).</summary>
internal sealed class ControlRequestException(string message) : Exception(message);
