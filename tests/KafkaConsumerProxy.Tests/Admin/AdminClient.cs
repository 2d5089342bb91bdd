using System.Net.Http.Headers;
using System.Text.Json;
using KafkaConsumerProxy.Tests.Harness;

namespace KafkaConsumerProxy.Tests.Admin;

/// <summary>Finds a running kcp's admin endpoint from {state_dir}/admin.json and talks to it; keeps every response body.</summary>
internal sealed class AdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly List<string> _bodies = [];

    private AdminClient(Uri baseAddress, string? token)
    {
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Token = token;
    }

    public Uri BaseAddress => _http.BaseAddress!;

    public string? Token { get; set; }

    /// <summary>Every response body read so far (for the secrets scan).</summary>
    public IReadOnlyList<string> Bodies => _bodies;

    public static async Task<AdminClient> ConnectAsync(string stateDir, KcpProcess kcp, string? token, TimeSpan timeout)
    {
        var file = Path.Combine(stateDir, "admin.json");
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(file))
        {
            Assert.False(kcp.HasExited, "kcp exited before its admin endpoint listened:\n" + kcp.Tail());
            Assert.True(DateTime.UtcNow < deadline, $"no {file} within {timeout}:\n" + kcp.Tail());
            await Task.Delay(50);
        }

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        return new AdminClient(new Uri(doc.RootElement.GetProperty("url").GetString()!), token);
    }

    public async Task<(int Status, string Body)> SendAsync(HttpMethod method, string path, string? token = null, bool noToken = false, Action<HttpRequestMessage>? tweak = null)
    {
        using var request = new HttpRequestMessage(method, path);
        var use = noToken ? null : token ?? Token;
        if (use is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", use);
        }

        tweak?.Invoke(request);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        lock (_bodies)
        {
            _bodies.Add(body);
        }

        return ((int)response.StatusCode, body);
    }

    public Task<(int Status, string Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<(int Status, string Body)> PostAsync(string path) => SendAsync(HttpMethod.Post, path);

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        var (status, body) = await GetAsync(path);
        Assert.True(status == 200, $"GET {path}: {status} {body}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>Polls GET <paramref name="path"/> until <paramref name="condition"/> holds; fails with the last answer.</summary>
    public async Task<JsonElement> WaitForJsonAsync(string path, Func<JsonElement, bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            var (status, body) = await GetAsync(path);
            last = $"{status} {body}";
            if (status == 200)
            {
                using var doc = JsonDocument.Parse(body);
                if (condition(doc.RootElement))
                {
                    return doc.RootElement.Clone();
                }
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{what}: not within {timeout}; last answer of GET {path}: {last}");
        return default;
    }

    public void Dispose() => _http.Dispose();
}
