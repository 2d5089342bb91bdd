namespace KafkaConsumerProxy.Delivery.Tls;

/// <summary>
/// A TLS connection to the endpoint failed; <see cref="Exception.Message"/> says what failed (expired, name mismatch,
/// unknown CA, client certificate refused, ...). Becomes <see cref="DeliveryOutcome.TlsError"/>.
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
