namespace KafkaConsumerProxy.Delivery;

/// <summary>What a route's delivery holds open and its supervisor closes when the route is retired: the HTTP connection pool, the dead-letter producer and the retry lane's.</summary>
internal sealed class RouteDeliveryResources(HttpDeliverer http, DeadLetterWriter? deadLetter, RetryLane? lane = null) : IDisposable
{
    public HttpDeliverer Http => http;

    public DeadLetterWriter? DeadLetter => deadLetter;

    /// <summary>Cancels the route's requests in flight (see <see cref="HttpDeliverer.CancelInFlight"/>).</summary>
    public void CancelInFlight() => http.CancelInFlight();

    public void Dispose()
    {
        lane?.Dispose();
        deadLetter?.Dispose();
        http.Dispose();
    }
}
