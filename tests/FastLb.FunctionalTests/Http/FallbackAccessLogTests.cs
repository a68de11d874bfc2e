using System.Net;
using System.Text;
using System.Text.Json;
using FastLb.FunctionalTests.Host;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>A request that fell back says so in the access log: where it went first, each step's reason and target, and the attempts.</summary>
public sealed class FallbackAccessLogTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const string Completion = """{"model":"llama-3.1-8b","messages":[{"role":"user","content":"one two three"}]}""";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<HttpResponse> PostAsync(IPEndPoint lb)
    {
        await using var client = await HttpClientConnection.ConnectAsync(lb).WaitAsync(Wait);
        var body = Encoding.UTF8.GetBytes(Completion);
        return await client.RequestAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n", body).WaitAsync(Wait);
    }

    private static async Task<string[]> LinesAsync(string path, int count)
    {
        string[] lines = [];
        await HttpLb.WaitUntilAsync(() =>
        {
            lines = File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0)] : [];
            return Task.FromResult(lines.Length >= count);
        }, $"{count} access log line(s) in {Path.GetFileName(path)}", Wait);
        return lines;
    }

    [Fact]
    public async Task FellBackTwice_TextAndJsonLinesNameTheTrailAndAttempts()
    {
        await using var a = FakeOpenAiBackend.Start("a");
        await using var b = FakeOpenAiBackend.Start("b");
        await using var backup = FakeOpenAiBackend.Start("backup");
        a.Script(503);
        b.Script(429);
        var json = _dir.File("json.log");
        var text = _dir.File("text.log");
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                access_log: { path: {{json}}, format: json }
                routes: [ { service: llm } ]
              - name: ai-text
                bind: 127.0.0.1:0
                protocol: http
                access_log: { path: {{text}} }
                routes: [ { service: llm } ]
              - name: plain
                bind: 127.0.0.1:0
                protocol: http
                access_log: { path: {{json}}, format: json }
                routes: [ { service: other } ]
            services:
              llm:
                active: a
                pools: { a: [ {{a.EndPoint}} ], b: [ {{b.EndPoint}} ] }
                fallback: { on: [429, 503], to: [b, spare], max_attempts: 3 }
              spare:
                pools: { s: [ {{backup.EndPoint}} ] }
              other:
                pools: { o: [ {{backup.EndPoint}} ] }
            """);
        var textEndPoint = new IPEndPoint(IPAddress.Loopback, lb.Server.Listeners[1].EndPoint.Port);
        var plainEndPoint = new IPEndPoint(IPAddress.Loopback, lb.Server.Listeners[2].EndPoint.Port);

        var first = await PostAsync(lb.EndPoint);
        Assert.Equal((200, "backup"), (first.Status, first.Backend));
        var second = await PostAsync(lb.EndPoint); // the scripts are used up: a answers
        Assert.Equal((200, "a"), (second.Status, second.Backend));
        a.Script(503);
        b.Script(429);
        Assert.Equal(200, (await PostAsync(textEndPoint)).Status);
        Assert.Equal(200, (await PostAsync(plainEndPoint)).Status);

        var entries = (await LinesAsync(json, 3)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var fellBack = entries.Where(e => e.GetProperty("listener").GetString() == "ai" && e.GetProperty("fallback").ValueKind == JsonValueKind.Object).Single();
        Assert.Equal(("spare", "s"), (fellBack.GetProperty("service").GetString(), fellBack.GetProperty("pool").GetString())); // where it ended
        var fallback = fellBack.GetProperty("fallback");
        Assert.Equal(("llm", "a", 3), (fallback.GetProperty("service").GetString(), fallback.GetProperty("pool").GetString(), fallback.GetProperty("attempts").GetInt32()));
        Assert.Equal(
            ["503>b", "429>spare"],
            fallback.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("reason").GetString() + ">" + s.GetProperty("to").GetString()));
        // The second request to the same service did not fall back: the field is there, null; a service without fallback has none.
        var direct = entries.Single(e => e.GetProperty("listener").GetString() == "ai" && e.GetProperty("fallback").ValueKind == JsonValueKind.Null);
        Assert.Equal("a", direct.GetProperty("pool").GetString());
        Assert.False(entries.Single(e => e.GetProperty("listener").GetString() == "plain").TryGetProperty("fallback", out _));

        var line = (await LinesAsync(text, 1)).Single();
        Assert.Contains(" spare s ", line, StringComparison.Ordinal);
        Assert.EndsWith(" fallback=llm/a:503>b:429>spare attempts=3", line, StringComparison.Ordinal);
    }
}
