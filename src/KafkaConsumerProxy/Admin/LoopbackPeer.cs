using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// Which local user opened a loopback TCP connection: the client's socket is a line of <c>/proc/net/tcp</c> (or
/// <c>tcp6</c>) whose local address is the connection's remote end and whose remote address is this listener, and that
/// line names the socket's owner (uid). Linux only; read per request that changes state, which are few.
/// </summary>
internal static partial class LoopbackPeer
{
    private const int LocalColumn = 1, RemoteColumn = 2, UidColumn = 7;

    /// <summary>The effective uid kcp runs as.</summary>
    public static uint Self { get; } = OperatingSystem.IsLinux() ? geteuid() : uint.MaxValue;

    /// <summary>The uid owning the client end of the connection from <paramref name="remote"/> to <paramref name="local"/>; null when not found.</summary>
    public static uint? Uid(IPEndPoint remote, IPEndPoint local)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        foreach (var (file, v6) in new[] { ("/proc/net/tcp", false), ("/proc/net/tcp6", true) })
        {
            if (Hex(remote, v6) is not { } clientEnd || Hex(local, v6) is not { } serverEnd)
            {
                continue;
            }

            try
            {
                foreach (var line in File.ReadLines(file).Skip(1))
                {
                    var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (columns.Length > UidColumn && columns[LocalColumn] == clientEnd && columns[RemoteColumn] == serverEnd
                        && uint.TryParse(columns[UidColumn], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                    {
                        return uid;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // No IPv6 (no tcp6), or /proc not mounted: not found there.
            }
        }

        return null;
    }

    /// <summary>
    /// The address as the kernel prints it in <c>/proc/net/tcp{,6}</c>: each 32-bit word of the address in host byte
    /// order, in hex, then the port; null when the address cannot appear in that file (IPv6 in <c>tcp</c>).
    /// </summary>
    private static string? Hex(IPEndPoint endPoint, bool v6)
    {
        var ip = endPoint.Address;
        if (ip.IsIPv4MappedToIPv6 && !v6)
        {
            ip = ip.MapToIPv4();
        }
        else if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && v6)
        {
            ip = ip.MapToIPv6();
        }
        else if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !v6)
        {
            return null;
        }

        var bytes = ip.GetAddressBytes();
        var text = new StringBuilder(bytes.Length * 2 + 5);
        for (var word = 0; word < bytes.Length; word += 4)
        {
            for (var i = 0; i < 4; i++)
            {
                var b = bytes[word + (BitConverter.IsLittleEndian ? 3 - i : i)];
                text.Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return text.Append(':').Append(endPoint.Port.ToString("X4", CultureInfo.InvariantCulture)).ToString();
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
