using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KafkaConsumerProxy.Bench;

/// <summary>
/// Debian's nginx with the echo module as a receiver that costs almost nothing per request: started by the
/// benchmark on 127.0.0.1 with its own config and prefix in the work directory, one process (no master, one worker),
/// keep-alive, answering every POST with <c>{"errno":0}</c>. Each request is logged as <c>$msec $request_body</c>
/// (the body read in one buffer by <c>echo_read_request_body</c>, unescaped: kcp's form and JSON bodies have no
/// line breaks); the arrivals are counted by reading that log as it grows. A JSON array body counts its elements.
/// <c>POST /reset</c> writes a <c>RESET</c> line into the same log (same buffer, so in order): counting starts again
/// after it. Install with <c>bench/install.sh</c>.
/// </summary>
internal sealed class NginxReceiver : IReceiver, IDisposable
{
    public const string Executable = "/usr/sbin/nginx";
    public const string EchoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so";

    private readonly HttpClient _http;
    private readonly string _log;
    private readonly Lock _gate = new();
    private readonly StringBuilder _partial = new();
    private readonly byte[] _buffer = new byte[1 << 20];
    private long _position;
    private long _resets;
    private long _messages;
    private long _requests;
    private double _first;
    private double _last;

    private NginxReceiver(ChildProcess process, Uri baseAddress, Uri http2Address, string log)
    {
        Process = process;
        BaseAddress = baseAddress;
        Http2Address = http2Address;
        _log = log;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Kind => "nginx";

    public ChildProcess Process { get; }

    public Uri BaseAddress { get; }

    /// <summary>The same server on a second port that speaks HTTP/2 without TLS (h2c, prior knowledge only).</summary>
    public Uri Http2Address { get; }

    /// <summary>Why nginx cannot be used here, or null when its binary and the echo module are installed.</summary>
    public static string? Missing() =>
        !File.Exists(Executable) ? $"{Executable} not found (run bench/install.sh)"
        : !File.Exists(EchoModule) ? $"{EchoModule} not found (run bench/install.sh)"
        : null;

    /// <summary>Writes the config under <paramref name="work"/>/nginx, starts nginx and waits until it accepts connections.</summary>
    public static async Task<NginxReceiver> StartAsync(string work)
    {
        var prefix = Directory.CreateDirectory(Path.Combine(work, "nginx")).FullName;
        Directory.CreateDirectory(Path.Combine(prefix, "logs"));
        Directory.CreateDirectory(Path.Combine(prefix, "temp"));
        var port = FreePort();
        var http2Port = FreePort();
        var log = Path.Combine(prefix, "logs", "arrivals.log");
        var config = Path.Combine(prefix, "nginx.conf");
        File.WriteAllText(config, Config(prefix, port, http2Port, log));
        File.WriteAllText(log, "");
        var process = ChildProcess.Start("nginx", Executable, ["-p", prefix, "-c", config, "-e", Path.Combine(prefix, "logs", "error.log")]);
        var receiver = new NginxReceiver(process, new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/"),
            new Uri($"http://127.0.0.1:{http2Port.ToString(CultureInfo.InvariantCulture)}/"), log);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"nginx exited with code {process.ExitCode}:\n{process.Output(20)}\n{ReadError(prefix)}");
                }

                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(50).ConfigureAwait(false);
                }
            }

            await receiver.ResetAsync().ConfigureAwait(false);
            return receiver;
        }
        catch
        {
            receiver.Dispose();
            throw;
        }
    }

    public Task<ReceiverStats> StatsAsync()
    {
        lock (_gate)
        {
            ReadNewLines();
            return Task.FromResult(new ReceiverStats(_messages, _requests, _first, _last, 0));
        }
    }

    /// <summary>POSTs /reset and waits (bounded) until its marker line has been read from the log.</summary>
    public async Task ResetAsync()
    {
        long before;
        lock (_gate)
        {
            ReadNewLines();
            before = _resets;
        }

        using (var response = await _http.PostAsync(new Uri("reset", UriKind.Relative), null).ConfigureAwait(false))
        {
            response.EnsureSuccessStatusCode();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            lock (_gate)
            {
                ReadNewLines();
                if (_resets > before)
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("nginx's access log did not show the reset within 10 s");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        Process.Dispose();
    }

    /// <summary>The messages in one logged body: the elements of a JSON array, else one.</summary>
    public static long CountMessages(ReadOnlySpan<char> body)
    {
        body = body.Trim();
        if (body.Length == 0 || body[0] != '[')
        {
            return 1;
        }

        long count = 0;
        var depth = 0;
        var inString = false;
        var element = false;
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            switch (c)
            {
                case '"':
                    inString = true;
                    element |= depth == 1;
                    break;
                case '[' or '{':
                    element |= depth == 1;
                    depth++;
                    break;
                case ']' or '}':
                    depth--;
                    break;
                case ',' when depth == 1:
                    count += element ? 1 : 0;
                    element = false;
                    break;
                default:
                    element |= depth == 1 && !char.IsWhiteSpace(c);
                    break;
            }
        }

        return count + (element ? 1 : 0);
    }

    private void ReadNewLines()
    {
        using var stream = new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Position = _position;
        int read;
        while ((read = stream.Read(_buffer)) > 0)
        {
            _position += read;
            var text = Encoding.UTF8.GetString(_buffer, 0, read);
            var start = 0;
            for (var newline = text.IndexOf('\n', start); newline >= 0; newline = text.IndexOf('\n', start))
            {
                if (_partial.Length > 0)
                {
                    _partial.Append(text, start, newline - start);
                    Line(_partial.ToString());
                    _partial.Clear();
                }
                else
                {
                    Line(text.AsSpan(start, newline - start));
                }

                start = newline + 1;
            }

            _partial.Append(text, start, text.Length - start);
        }
    }

    private void Line(ReadOnlySpan<char> line)
    {
        var space = line.IndexOf(' ');
        if (space <= 0 || !double.TryParse(line[..space], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return;
        }

        var body = line[(space + 1)..];
        if (body.SequenceEqual("RESET"))
        {
            _resets++;
            _messages = 0;
            _requests = 0;
            _first = 0;
            _last = 0;
            return;
        }

        var ms = seconds * 1000;
        _requests++;
        _messages += CountMessages(body);
        _first = _first == 0 ? ms : Math.Min(_first, ms);
        _last = Math.Max(_last, ms);
    }

    private static string Config(string prefix, int port, int http2Port, string log) => $$"""
        load_module {{EchoModule}};
        daemon off;
        master_process off;
        worker_processes 1;
        pid {{prefix}}/nginx.pid;
        error_log {{prefix}}/logs/error.log warn;
        events { worker_connections 4096; }
        http {
          client_body_temp_path {{prefix}}/temp/body;
          proxy_temp_path {{prefix}}/temp/proxy;
          fastcgi_temp_path {{prefix}}/temp/fastcgi;
          uwsgi_temp_path {{prefix}}/temp/uwsgi;
          scgi_temp_path {{prefix}}/temp/scgi;
          keepalive_requests 10000000;
          keepalive_timeout 300s;
          client_max_body_size 64m;
          client_body_buffer_size 64m;
          client_body_in_single_buffer on;
          default_type application/json;
          log_format arrivals escape=none '$msec $request_body';
          log_format reset '$msec RESET';
          server {
            listen 127.0.0.1:{{port}} backlog=4096;
            listen 127.0.0.1:{{http2Port}} http2 backlog=4096;
            access_log off;
            location = /reset {
              access_log {{log}} reset buffer=256k flush=50ms;
              echo 'ok';
            }
            location / {
              access_log {{log}} arrivals buffer=256k flush=50ms;
              echo_read_request_body;
              echo '{"errno":0}';
            }
          }
        }
        """;

    private static string ReadError(string prefix)
    {
        try
        {
            return File.ReadAllText(Path.Combine(prefix, "logs", "error.log"));
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
