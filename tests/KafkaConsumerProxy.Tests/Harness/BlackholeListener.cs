using System.Net;
using System.Net.Sockets;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// A port on 127.0.0.1 where connecting hangs: a listener that never accepts, with its accept queue already full,
/// so the kernel drops further connection attempts instead of completing or refusing them.
/// </summary>
public sealed class BlackholeListener : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _fillers = [];

    private BlackholeListener()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(0);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public static BlackholeListener Start()
    {
        var blackhole = new BlackholeListener();
        // Fill the accept queue; once full, connects neither complete nor fail until they time out.
        for (var i = 0; i < 8; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var connect = filler.ConnectAsync(IPAddress.Loopback, blackhole.Port);
            blackhole._fillers.Add(filler);
            if (!connect.Wait(TimeSpan.FromMilliseconds(200)))
            {
                break;
            }
        }

        return blackhole;
    }

    public void Dispose()
    {
        foreach (var filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }
}
