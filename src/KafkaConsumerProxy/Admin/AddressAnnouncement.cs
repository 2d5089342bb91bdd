using KafkaConsumerProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace KafkaConsumerProxy.Admin;

/// <summary>
/// Keeps the admin endpoint's address file (<c>admin.json</c>) in state_dir for <c>kcp status</c>. The file is optional:
/// one that cannot be written (a full disk) is a warning and kcp runs on; it is written whole or not at all (no
/// <c>.tmp</c> is left), and written again within <see cref="ControlServer.CheckInterval"/> when it is missing
/// (state_dir deleted while kcp runs, or an earlier write failed).
/// </summary>
internal sealed class AddressAnnouncement : IAsyncDisposable
{
    private readonly string _stateDir;
    private readonly string _file;
    private readonly string _text;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private bool _failing;

    public AddressAnnouncement(string stateDir, string file, string text, ILogger logger, TimeProvider time)
    {
        _stateDir = stateDir;
        _file = file;
        _text = text;
        _logger = logger;
        _time = time;
        Write();
        _watch = WatchAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        _stop.Dispose();
    }

    private bool Write()
    {
        var temp = _file + ".tmp";
        try
        {
            Directory.CreateDirectory(_stateDir);
            File.WriteAllText(temp, _text);
            File.Move(temp, _file, overwrite: true);
            _failing = false;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do; the next write replaces it.
            }

            if (!_failing)
            {
                Log.AdminAddressFileFailed(_logger, _file, ex.Message);
            }

            _failing = true;
            return false;
        }
    }

    private async Task WatchAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(ControlServer.CheckInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                if (!File.Exists(_file) && Write())
                {
                    Log.AdminAddressFileRecreated(_logger, _file);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }
}
