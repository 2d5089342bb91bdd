using KafkaConsumerProxy.Configuration;
using KafkaConsumerProxy.Telemetry;

namespace KafkaConsumerProxy.Delivery;

/// <summary>
/// The first 512 bytes of a failed attempt's response body, for the admin endpoint's view of a failing message. A body
/// that the decision did not need (a non-2xx status) is read only that far and only for <see cref="ReadPatience"/>: an
/// endpoint that sends the status and then nothing delays the next attempt by at most that. The route's secrets are
/// masked in the bytes before they are escaped, also one cut at the end.
/// </summary>
internal static class BodyExcerpt
{
    public const int MaxBytes = 512;

    public static readonly TimeSpan ReadPatience = TimeSpan.FromMilliseconds(200);

    /// <summary>Escaped text of the first <see cref="MaxBytes"/> bytes of <paramref name="body"/>, secrets masked; null when empty.</summary>
    public static string? Of(ReadOnlySpan<byte> body, RouteRedactor secrets) =>
        body.IsEmpty ? null : LogText.Escape(secrets.HideBytes(body[..Math.Min(body.Length, MaxBytes)], cut: body.Length > MaxBytes), maxChars: 4 * MaxBytes);

    public static async Task<string?> ReadAsync(HttpContent content, RouteRedactor secrets, CancellationToken attempt)
    {
        // On the system clock, as the attempt's exec_timeout_ms: it bounds a read from the real network.
        using var timeout = new CancellationTokenSource(ReadPatience, TimeProvider.System);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(attempt, timeout.Token);
        // One byte more than is shown tells whether the body was cut.
        var buffer = new byte[MaxBytes + 1];
        var length = 0;
        try
        {
            var stream = await content.ReadAsStreamAsync(patience.Token).ConfigureAwait(false);
            while (length < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(length), patience.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            // What arrived in time is shown; the attempt's outcome is already decided.
        }

        return Of(buffer.AsSpan(0, length), secrets);
    }
}
