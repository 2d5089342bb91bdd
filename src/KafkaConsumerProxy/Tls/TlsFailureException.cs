namespace KafkaConsumerProxy.Tls;

/// <summary>
/// A TLS connection of a <see cref="TlsConnector"/> failed; <see cref="Exception.Message"/> says what failed (expired,
/// name mismatch, unknown CA, client certificate refused, ...). A route's attempt becomes its <c>TlsError</c> outcome, a
/// schema registry's request <c>RegistryUnavailable</c>.
/// </summary>
internal sealed class TlsFailureException : IOException
{
    public TlsFailureException(string reason, Exception? inner = null)
        : base(reason, inner)
    {
    }

    public TlsFailureException()
    {
    }

    public TlsFailureException(string message)
        : base(message)
    {
    }
}
