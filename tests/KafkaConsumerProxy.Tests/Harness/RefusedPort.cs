using System.Net;
using System.Net.Sockets;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A port on 127.0.0.1 where every connection is refused at once: a socket bound to it that never listens. Holding
/// the binding for the test's duration keeps any other listener (another test's, started meanwhile) off the port,
/// which a port bound and released at once would not.
/// </summary>
public sealed class RefusedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public RefusedPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
