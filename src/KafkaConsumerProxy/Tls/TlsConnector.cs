using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using KafkaConsumerProxy.Configuration;

namespace KafkaConsumerProxy.Tls;

/// <summary>
/// Opens kcp's TLS connections as the <see cref="SocketsHttpHandler.ConnectCallback"/> of an HTTP client: a
/// <c>scheme: https</c> route's (<c>Delivery/HttpDeliverer</c>), a cluster's Schema Registry (<c>Decoding/SchemaSource</c>)
/// and the OTLP collector's (<c>Hosting/OtlpExport</c>). TCP, then a TLS handshake with the configured server name (SNI
/// and the name checked), trust (a CA file or the system store) and client certificate. The handler then speaks
/// HTTP/1.1 over the returned stream, so request URIs stay <c>http://</c> inside the process. Doing the handshake here,
/// rather than in the handler, is what lets a server name differ from the Host header (the handler sends the Host header
/// as SNI), picks up rotated files at every new connection, and names what failed: every failure is a
/// <see cref="TlsFailureException"/>, which a route's deliverer turns into its <c>TlsError</c> outcome.
/// </summary>
internal sealed class TlsConnector : IDisposable
{
    private readonly TlsSettings _tls;
    private readonly TlsKeyNames _keys;
    private readonly string? _fixedServerName;
    private readonly ReloadingFiles<X509Certificate2Collection>? _ca;
    private readonly ReloadingFiles<ClientIdentity>? _client;

    public TlsConnector(EndpointSettings endpoint)
        : this(endpoint.Tls, endpoint.Tls.ServerName ?? (endpoint.Domain is { } domain ? HostOf(domain) : null), TlsKeyNames.Route)
    {
    }

    /// <param name="tls">The files and checks.</param>
    /// <param name="fixedServerName">The name sent as SNI and checked; null = the host of each connection.</param>
    /// <param name="keys">The configuration keys the failure messages name.</param>
    internal TlsConnector(TlsSettings tls, string? fixedServerName, TlsKeyNames keys)
    {
        _tls = tls;
        _keys = keys;
        _fixedServerName = fixedServerName;
        if (_tls.CaFile is { } caFile)
            _ca = new ReloadingFiles<X509Certificate2Collection>([caFile], () => TlsFiles.LoadCa(caFile) is var (certs, problem) && certs is not null ? (certs, null) : (null, $"{keys.CaFile} {problem}"), DisposeAll);
        if (_tls.ClientCertFile is { } certFile && _tls.ClientKeyFile is { } keyFile)
            _client = new ReloadingFiles<ClientIdentity>([certFile, keyFile], () => TlsFiles.LoadClient(certFile, keyFile) is var (identity, problem) && identity is not null ? (identity, null) : (null, $"{keys.ClientCertFile}: {problem}"), c => c.Dispose());
    }

    /// <summary>The <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken token)
    {
        var serverName = _fixedServerName ?? context.DnsEndPoint.Host;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var network = new NetworkStream(socket, ownsSocket: true);
        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        var handshake = new Handshake(this, serverName);
        try
        {
            var client = _client?.Current();
            var ca = _ca?.Current();
            handshake.ClientCertificate = client?.Certificate;
            handshake.Trust = ca;
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                RemoteCertificateValidationCallback = handshake.Validate,
                LocalCertificateSelectionCallback = handshake.SelectClientCertificate,
                ClientCertificateContext = client?.Context,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
            }, token).ConfigureAwait(false);
        }
        catch (TlsFailureException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new TlsFailureException(handshake.Explain(ex), ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        // A certificate given at the start of the handshake is sent without a second call of the selection callback.
        handshake.ClientCertificateSent = ssl.LocalCertificate is not null;
        return new TlsStream(ssl, handshake);
    }

    public void Dispose()
    {
        _ca?.Dispose();
        _client?.Dispose();
    }

    // The Host header may carry a port; the certificate names the host alone.
    private static string HostOf(string domain)
    {
        if (domain.StartsWith('['))
            return domain[1..domain.IndexOf(']', StringComparison.Ordinal)];
        var colon = domain.LastIndexOf(':');
        return colon > 0 && domain.IndexOf(':', StringComparison.Ordinal) == colon ? domain[..colon] : domain;
    }

    private static void DisposeAll(X509Certificate2Collection certificates)
    {
        foreach (var certificate in certificates)
            certificate.Dispose();
    }

    private static string Names(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames().Select(n => "DNS:" + n));
                names.AddRange(san.EnumerateIPAddresses().Select(a => "IP:" + a));
            }
        }

        return names.Count > 0 ? string.Join(", ", names) : $"subject {certificate.Subject}";
    }

    private static string Utc(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>What one handshake saw, so a failure can be explained after the fact.</summary>
    internal sealed class Handshake(TlsConnector owner, string serverName)
    {
        public X509Certificate2? ClientCertificate { get; set; }

        public X509Certificate2Collection? Trust { get; set; }

        /// <summary>Why the server's certificate was refused; null when it was accepted or not seen.</summary>
        public string? Refused { get; private set; }

        /// <summary>True when the server asked for a client certificate, or one was sent.</summary>
        public bool ClientCertificateRequested { get => _requested || ClientCertificateSent; private set => _requested = value; }

        /// <summary>True when the handshake sent <see cref="ClientCertificate"/>.</summary>
        public bool ClientCertificateSent { get; set; }

        private bool _requested;

        public X509Certificate? SelectClientCertificate(object sender, string targetHost, X509CertificateCollection local, X509Certificate? remote, string[] issuers)
        {
            // Also called before the handshake with nothing from the server; a request comes with its certificate.
            if (remote is not null || issuers.Length > 0)
                ClientCertificateRequested = true;
            return ClientCertificate;
        }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (owner._tls.InsecureSkipVerify)
                return true;
            if (certificate is not X509Certificate2 server)
            {
                Refused = "the server sent no certificate";
                return false;
            }

            var problems = new List<string>();
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
                problems.Add($"name mismatch: the server's certificate is not valid for '{serverName}' (it is for {Names(server)}); {owner._keys.NameHint}");
            if (Trust is not null)
            {
                using var own = new X509Chain();
                own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                own.ChainPolicy.CustomTrustStore.AddRange(Trust);
                own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                {
                    foreach (var element in chain.ChainElements)
                        own.ChainPolicy.ExtraStore.Add(element.Certificate);
                }

                if (!own.Build(server))
                    problems.AddRange(ChainProblems(server, own.ChainStatus, $"{owner._keys.CaFile} ({owner._tls.CaFile})"));
            }
            else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                problems.AddRange(ChainProblems(server, chain?.ChainStatus ?? [], "the system trust store"));
            }

            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
                problems.Add("the server sent no certificate");
            Refused = problems.Count > 0 ? "server certificate refused: " + string.Join("; ", problems.Distinct()) : null;
            return problems.Count == 0;
        }

        /// <summary>The reason of a failed handshake (or of a TLS connection that failed before its first byte arrived).</summary>
        public string Explain(Exception ex)
        {
            if (Refused is not null)
                return Refused;
            var detail = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
            if (ClientCertificateRequested && ClientCertificate is null)
                return $"client certificate required: the server asked for one and {owner._keys.ClientCertFile} is not set ({detail})";
            if (ClientCertificateRequested)
                return $"client certificate refused by the server ({ClientCertificate!.Subject}, valid until {Utc(ClientCertificate.NotAfter)}): {detail}";
            return $"TLS handshake with '{serverName}' failed: {detail}";
        }

        private static IEnumerable<string> ChainProblems(X509Certificate2 server, X509ChainStatus[] statuses, string trust)
        {
            foreach (var status in statuses)
            {
                // On the system clock: the chain builder (which takes no TimeProvider) judged NotTimeValid against it.
                yield return status.Status switch
                {
                    X509ChainStatusFlags.NotTimeValid when server.NotAfter.ToUniversalTime() < TimeProvider.System.GetUtcNow().UtcDateTime =>
                        $"expired: the server's certificate was valid until {Utc(server.NotAfter)}",
                    X509ChainStatusFlags.NotTimeValid when server.NotBefore.ToUniversalTime() > TimeProvider.System.GetUtcNow().UtcDateTime =>
                        $"not yet valid: the server's certificate is valid from {Utc(server.NotBefore)}",
                    X509ChainStatusFlags.NotTimeValid => "expired: a certificate of the server's chain is outside its validity period",
                    X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain =>
                        $"unknown CA: the server's certificate (issued by {server.Issuer}) does not chain to a CA of {trust}",
                    _ => $"{status.Status}: {status.StatusInformation.Trim()}",
                };
            }
        }
    }

    /// <summary>
    /// The TLS stream handed to the handler. With TLS 1.3 a server refuses a client certificate only after the client
    /// finished its handshake, so the refusal arrives as the failure of the first read: that one is explained too.
    /// </summary>
    private sealed class TlsStream(SslStream inner, Handshake handshake) : Stream
    {
        private bool _received;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0 && !_received && buffer.Length > 0 && handshake.ClientCertificateRequested)
                    throw new TlsFailureException(handshake.Explain(new IOException("the server closed the connection after the handshake")));
                _received |= read > 0;
                return read;
            }
            catch (Exception ex) when (Refusal(ex))
            {
                throw new TlsFailureException(handshake.Explain(ex), ex);
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Refusal(ex))
            {
                throw new TlsFailureException(handshake.Explain(ex), ex);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // HttpClient.Send (the OTLP exporter's) writes synchronously: a refusal is explained here too.
        public override void Write(byte[] buffer, int offset, int count)
        {
            try
            {
                inner.Write(buffer, offset, count);
            }
            catch (Exception ex) when (Refusal(ex))
            {
                throw new TlsFailureException(handshake.Explain(ex), ex);
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        // Before the first byte from the server, a failure of a connection whose server asked for a client certificate
        // is that certificate's refusal (TLS 1.3 sends it as an alert after the handshake).
        private bool Refusal(Exception ex) => !_received && handshake.ClientCertificateRequested && ex is IOException or AuthenticationException && ex is not TlsFailureException;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override ValueTask DisposeAsync() => inner.DisposeAsync();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>The configuration keys a <see cref="TlsConnector"/>'s failure messages name: a route's <c>tls_*</c> keys, a schema registry's or the telemetry section's.</summary>
/// <param name="CaFile">The key of the CA bundle.</param>
/// <param name="ClientCertFile">The key of the client certificate.</param>
/// <param name="NameHint">What to do about a name mismatch.</param>
internal sealed record TlsKeyNames(string CaFile, string ClientCertFile, string NameHint)
{
    /// <summary>A route's keys.</summary>
    public static TlsKeyNames Route { get; } = new("tls_ca_file", "tls_client_cert_file", "set tls_server_name or domain to a name it carries");
}
