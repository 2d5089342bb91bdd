using System.Net.Sockets;
using System.Text;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>
/// One HTTP/1.1 request written byte for byte on a TCP socket to 127.0.0.1, so that its <c>Host</c> and <c>Origin</c>
/// are exactly those a browser would send (HttpClient derives Host from the URL).
/// </summary>
internal static class RawHttp
{
    public static async Task<(int Status, string Body)> SendAsync(int port, string method, string target, params (string Name, string Value)[] headers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var request = new StringBuilder();
        request.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        foreach (var (name, value) in headers)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        request.Append("Content-Length: 0\r\nConnection: close\r\n\r\n");
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(timeout.Token);
        var statusLine = text.Split("\r\n", 2)[0];
        Assert.True(statusLine.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), $"not an HTTP answer: {text}");
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = split < 0 ? "" : text[(split + 4)..];
        return (int.Parse(statusLine.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), body);
    }
}
