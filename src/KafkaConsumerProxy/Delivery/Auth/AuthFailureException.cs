namespace KafkaConsumerProxy.Delivery.Auth;

/// <summary>
/// The request could not be authenticated before it was sent (the OAuth2 token endpoint failed or answered no token);
/// <see cref="Exception.Message"/> says why and never holds a secret. Becomes <see cref="DeliveryOutcome.AuthError"/>.
/// </summary>
internal sealed class AuthFailureException : IOException
{
    public AuthFailureException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public AuthFailureException()
    {
    }

    public AuthFailureException(string message)
        : base(message)
    {
    }
}
