using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KafkaConsumerProxy.Tests.Delivery;

/// <summary>
/// An HTTP/1.1 endpoint on 127.0.0.1 (ephemeral port) written on a bare <see cref="TcpListener"/>: it reads each
/// request's head and body and writes back the exact bytes its script returns, then closes the connection. For
/// answers no HTTP server would send (a raw CR or LF inside a header value, an interim 1xx answer carrying headers),
/// which Kestrel refuses to write.
/// </summary>
internal sealed class RawHttpEndpoint : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<RawRequest, byte[]> _script;
    private readonly Lock _gate = new();
    private readonly List<RawRequest> _requests = [];
    private readonly Task _accepting;

    private RawHttpEndpoint(Func<RawRequest, byte[]> script)
    {
        _script = script;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The requests received so far, in arrival order.</summary>
    public IReadOnlyList<RawRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Starts an endpoint answering each request with the bytes <paramref name="script"/> gives for it.</summary>
    public static RawHttpEndpoint Start(Func<RawRequest, byte[]> script) => new(script);

    /// <summary>An answer as bytes: the status line, the header lines exactly as given (CR and LF in them kept), a body.</summary>
    public static byte[] Answer(string statusLine, string headerLines, string body = "{\"errno\":0}") =>
        Encoding.Latin1.GetBytes($"HTTP/1.1 {statusLine}\r\n{headerLines}Content-Type: application/json\r\nContent-Length: {Encoding.Latin1.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream);
                if (head is null)
                {
                    return;
                }

                var headers = ParseHeaders(head);
                var length = headers.TryGetValue("content-length", out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : 0;
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                var request = new RawRequest(
                    headers.TryGetValue("x-kafka-offset", out var offset) ? long.Parse(offset, CultureInfo.InvariantCulture) : null,
                    headers.TryGetValue("x-kafka-delivery-attempt", out var attempt) ? int.Parse(attempt, CultureInfo.InvariantCulture) : 0,
                    TimeProvider.System.GetUtcNow());
                lock (_gate)
                {
                    _requests.Add(request);
                }

                await stream.WriteAsync(_script(request), _stop.Token);
                await stream.FlushAsync(_stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away, or the endpoint is stopping.
            }
        }
    }

    // The request's head up to the blank line; null when the connection closed first. Bounded at 64 KiB.
    private async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
            {
                return null;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
            {
                return Encoding.Latin1.GetString([.. head]);
            }
        }

        return null;
    }

    private static Dictionary<string, string> ParseHeaders(string head)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Split("\r\n").Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        return headers;
    }

    public async ValueTask DisposeAsync()
    {
        // The accept loop ends on the cancelled token before the listener stops: a loop that had just passed its
        // check would otherwise call accept on a stopped listener, which throws instead of returning.
        await _stop.CancelAsync();
        await _accepting;
        _listener.Stop();
        _stop.Dispose();
    }
}

/// <summary>A request <see cref="RawHttpEndpoint"/> received: its <c>X-Kafka-Offset</c> (null for a batch), its <c>X-Kafka-Delivery-Attempt</c> and when.</summary>
internal sealed record RawRequest(long? Offset, int Attempt, DateTimeOffset ArrivedAt);
