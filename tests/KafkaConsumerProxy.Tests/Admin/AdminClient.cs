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
        await Eventually.TrueAsync(
            () =>
            {
                Assert.False(kcp.HasExited, "kcp exited before its admin endpoint listened:\n" + kcp.Tail());
                return File.Exists(file);
            },
            $"{file} written",
            timeout,
            () => "no such file;\n" + kcp.Tail(),
            TimeSpan.FromMilliseconds(50));

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
        return Json(body);
    }

    /// <summary>Polls GET <paramref name="path"/> until <paramref name="condition"/> holds; fails with the last answer.</summary>
    public async Task<JsonElement> WaitForJsonAsync(string path, Func<JsonElement, bool> condition, string what, TimeSpan timeout)
    {
        var (_, body) = await Eventually.ValueAsync(
            () => GetAsync(path),
            answer => answer.Status == 200 && condition(Json(answer.Body)),
            what,
            timeout,
            answer => $"GET {path}: {answer.Status} {answer.Body}",
            TimeSpan.FromMilliseconds(100));
        return Json(body);
    }

    private static JsonElement Json(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    public void Dispose() => _http.Dispose();
}
