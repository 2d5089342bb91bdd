using Microsoft.AspNetCore.Builder;

namespace KafkaConsumerProxy.Admin;

/// <summary>Shutdown shared by kcp's own listeners (the control socket and the admin endpoint).</summary>
internal static class LocalApp
{
    /// <summary>Stops <paramref name="app"/> (bounded by 5 s), disposes it and deletes the file that announced it.</summary>
    public static async ValueTask StopAsync(WebApplication app, string announcement, TimeProvider time)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
        try
        {
            await app.StopAsync(bound.Token).ConfigureAwait(false);
        }
        finally
        {
            await app.DisposeAsync().ConfigureAwait(false);
            try
            {
                File.Delete(announcement);
            }
            catch (IOException)
            {
                // state_dir removed meanwhile; nothing left to clean.
            }
        }
    }
}
