using System.Net;
using KafkaConsumerProxy.Telemetry;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// Bounds the admin listener's connections per client address (<see cref="MaxPerClient"/>) and in all
/// (<see cref="MaxTotal"/>) without letting idle ones lock others out: a connection that arrives over a bound closes the
/// oldest connection of that client (or, over the total, of anyone) that is not serving a request now — one that has
/// not sent its headers yet (half open) or waits between requests (keep-alive). Only when every counted connection is
/// serving a request is the new one closed. So a client holding many half-open connections delays nobody, and
/// <c>/healthz</c> answers at once even from the same address.
/// </summary>
internal sealed class AdminConnections : IDisposable
{
    /// <summary>Connections one client address may hold: a browser opens up to 6 per host, a scraper 1 or 2.</summary>
    public const int MaxPerClient = 16;

    /// <summary>Connections of the listener in all.</summary>
    public const int MaxTotal = 128;

    private readonly Lock _gate = new();
    private readonly LinkedList<Tracked> _order = new();
    private readonly Dictionary<string, Tracked> _byId = new(StringComparer.Ordinal);
    private readonly RepeatedLog<int, string> _closedLog;
    private readonly ILogger _logger;

    public AdminConnections(ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _closedLog = new RepeatedLog<int, string>(time, RepeatedLog<int, string>.DefaultInterval,
            (_, summary) => Log.AdminConnectionsClosed(logger, summary.Count, (int)Math.Ceiling(summary.Since.TotalSeconds), summary.Latest));
    }

    /// <summary>The connection middleware of the listener.</summary>
    public ConnectionDelegate Limit(ConnectionDelegate next) => async connection =>
    {
        var client = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "?";
        Tracked? victim = null;
        var admitted = true;
        var tracked = new Tracked(connection, client);
        lock (_gate)
        {
            if (_order.Count(t => t.Client == client) >= MaxPerClient)
            {
                victim = _order.FirstOrDefault(t => t.Client == client && t.Active == 0 && !t.Closing);
                admitted = victim is not null;
            }
            else if (_order.Count >= MaxTotal)
            {
                victim = _order.FirstOrDefault(t => t.Active == 0 && !t.Closing);
                admitted = victim is not null;
            }

            if (victim is not null)
            {
                victim.Closing = true;
            }

            if (admitted)
            {
                tracked.Node = _order.AddLast(tracked);
                _byId[connection.ConnectionId] = tracked;
            }
        }

        if (victim is not null || !admitted)
        {
            var what = victim is not null
                ? $"closed an idle connection of {victim.Client} for a new one of {client}"
                : $"refused a connection of {client}: all of its {MaxPerClient} connections (or all {MaxTotal}) are serving requests";
            if (_closedLog.ShouldLog(0, what))
            {
                Log.AdminConnectionClosed(_logger, what);
            }

            victim?.Connection.Abort(new ConnectionAbortedException("closed by kcp to make room for a new connection"));
        }

        if (!admitted)
        {
            return;
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _order.Remove(tracked.Node!);
                _byId.Remove(connection.ConnectionId);
            }
        }
    };

    /// <summary>Marks the connection <paramref name="connectionId"/> as serving a request until the result is disposed.</summary>
    public Busy Serving(string connectionId)
    {
        lock (_gate)
        {
            if (_byId.TryGetValue(connectionId, out var tracked))
            {
                tracked.Active++;
                return new Busy(this, tracked);
            }
        }

        return default;
    }

    public void Dispose() => _closedLog.Dispose();

    private void Done(Tracked tracked)
    {
        lock (_gate)
        {
            tracked.Active--;
        }
    }

    /// <summary>A request being served; disposing it marks its connection idle again (when it serves no other).</summary>
    public readonly struct Busy : IDisposable
    {
        private readonly AdminConnections? _owner;
        private readonly Tracked? _tracked;

        internal Busy(AdminConnections owner, Tracked tracked)
        {
            _owner = owner;
            _tracked = tracked;
        }

        public void Dispose()
        {
            if (_tracked is not null)
            {
                _owner!.Done(_tracked);
            }
        }
    }

    internal sealed class Tracked(ConnectionContext connection, string client)
    {
        public ConnectionContext Connection { get; } = connection;

        public string Client { get; } = client;

        public LinkedListNode<Tracked>? Node { get; set; }

        public int Active { get; set; }

        public bool Closing { get; set; }
    }
}
