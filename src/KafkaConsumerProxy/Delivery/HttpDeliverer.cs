using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// Sends one attempt of one message to a route's endpoint over pooled keep-alive connections and sorts the
/// result into a <see cref="DeliveryOutcome"/>; it never throws for an endpoint's misbehaviour.
/// One instance serves every member and partition of a route.
/// </summary>
public sealed class HttpDeliverer : IDisposable
{
    private readonly RouteDefinition _route;
    private readonly HttpClient _client;
    private readonly HostSelector _hosts;
    private readonly TimeSpan _execTimeout;

    public HttpDeliverer(RouteDefinition route)
    {
        _route = route;
        _hosts = new HostSelector(route.Hosts, route.Port, route.Url);
        _execTimeout = TimeSpan.FromMilliseconds(route.ExecTimeoutMs);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromMilliseconds(route.ConnTimeoutMs),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            // Re-resolve DNS now and then so a host name that moves is followed.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = int.MaxValue,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };
        _client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The host selector, shared so a message's retries rotate over hosts.</summary>
    public HostSelector Hosts => _hosts;

    /// <summary>
    /// One attempt. Bounded by <c>exec_timeout_ms</c> only: a stop or revoke lets the attempt finish rather than
    /// cut it, because a cut request may still have been processed by the endpoint.
    /// </summary>
    public async Task<DeliveryResult> SendAsync(KafkaRecord record, int slot, int attempt)
    {
        var target = _hosts.Target(slot, attempt);
        var host = target.Authority;
        var started = Stopwatch.GetTimestamp();
        using var timeout = new CancellationTokenSource(_execTimeout);
        try
        {
            using var request = RequestBuilder.Build(_route, target, record);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var (body, length, tooLarge) = await ReadBodyAsync(response.Content, timeout.Token).ConfigureAwait(false);
            try
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (tooLarge && _route.ResponseCheck == ResponseCheck.Errno && status is >= 200 and <= 299)
                {
                    return new DeliveryResult(DeliveryOutcome.RejectedBody, host, elapsed, status, $"body larger than {ResponseClassifier.MaxBodyBytes} bytes");
                }

                var (outcome, reason) = ResponseClassifier.Classify(_route.ResponseCheck, status, body.AsSpan(0, length));
                return new DeliveryResult(outcome, host, elapsed, status, reason);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(body);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new DeliveryResult(DeliveryOutcome.Timeout, host, Stopwatch.GetElapsedTime(started), Reason: $"no complete response within exec_timeout_ms={_route.ExecTimeoutMs}");
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException or SocketException)
        {
            return Classify(ex, host, Stopwatch.GetElapsedTime(started));
        }
    }

    private DeliveryResult Classify(Exception ex, string host, TimeSpan elapsed)
    {
        // SocketsHttpHandler reports an expired ConnectTimeout as a cancellation caused by a TimeoutException.
        if (ex is OperationCanceledException || ex.InnerException is TimeoutException)
        {
            return new DeliveryResult(DeliveryOutcome.ConnectTimeout, host, elapsed, Reason: $"no connection within conn_timeout_ms={_route.ConnTimeoutMs}");
        }

        var message = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
        return new DeliveryResult(DeliveryOutcome.ConnectionError, host, elapsed, Reason: message);
    }

    private static async Task<(byte[] Buffer, int Length, bool TooLarge)> ReadBodyAsync(HttpContent content, CancellationToken token)
    {
        var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(512);
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= ResponseClassifier.MaxBodyBytes)
                    {
                        // Drain the rest so the connection can be reused.
                        await stream.CopyToAsync(Stream.Null, token).ConfigureAwait(false);
                        return (buffer, length, true);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), token).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length, false);
                }

                length += read;
            }
        }
    }

    public void Dispose() => _client.Dispose();
}
