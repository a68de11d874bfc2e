using System.Text;
using System.Text.Json;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary><c>models:</c> aliases end to end: a chunked body's model rewritten with its chunks re-framed, and the access log naming the alias.</summary>
public sealed class ModelAliasTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Config(RawHttpBackend llm, RawHttpBackend other, string accessLog = "") => $$"""
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
        {{accessLog}}
            models:
              gpt-4o-latest: { service: llm, model: s }
              cheap: other
            routes:
              - match: { model: gpt-4o }
                service: other
              - service: llm
        services:
          llm:
            pools: { v1: [ {{llm.EndPoint}} ] }
          other:
            pools: { v1: [ {{other.EndPoint}} ] }
        """;

    private const string ChunkedHead = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

    [Fact]
    public async Task Post_ChunkedBodyToAlias_ModelRewrittenChunksAroundItUnchanged()
    {
        await using var llm = RawHttpBackend.Start("llm");
        await using var other = RawHttpBackend.Start("other");
        await using var lb = await HttpLb.StartAsync(Config(llm, other));
        await using var client = await lb.ConnectAsync();
        // {"messages":[],"model":"gpt-4o-latest","n":1}: the model's value spans the 2nd, 3rd and 4th chunks.
        var chunks = "f;a=1\r\n{\"messages\":[],\r\nE\r\n\"model\":\"gpt-4\r\n5\r\no-lat\r\n0b\r\nest\",\"n\":1}\r\n0\r\nx-t: 1\r\n\r\n";
        var rewritten = "f;a=1\r\n{\"messages\":[],\r\na\r\n\"model\":\"s\r\n8\r\n\",\"n\":1}\r\n0\r\nx-t: 1\r\n\r\n";
        var wire = Encoding.ASCII.GetBytes(ChunkedHead + chunks);
        for (var round = 0; round < 2; round++)
        {
            llm.Reset();
            // Cut inside the head, a size line and the value, each piece after a pause, so the peek and the pump see parts.
            int start = 0;
            foreach (var cut in new[] { 40, wire.Length - 50, wire.Length - 33, wire.Length })
            {
                await client.SendAsync(wire.AsMemory(start, cut - start)).WaitAsync(HttpLb.Timeout);
                start = cut;
                await Task.Delay(20);
            }
            var response = await client.ReadResponseAsync().WaitAsync(HttpLb.Timeout);
            Assert.Equal(200, response.Status);
            Assert.Equal("llm", response.Backend);
            // What the backend read: the head without Content-Length, then the body re-framed only where the value was.
            var received = llm.ReceivedText;
            Assert.DoesNotContain("content-length", received, StringComparison.OrdinalIgnoreCase);
            Assert.EndsWith("\r\n\r\n" + rewritten, received, StringComparison.Ordinal);
            var request = Assert.Single(llm.Requests);
            Assert.Equal("""{"messages":[],"model":"s","n":1}""", request.BodyText);
            Assert.Equal(["x-t: 1"], request.Trailers);
        }
    }

    [Fact]
    public async Task Post_ChunkedBodyToAliasWithoutRewrite_ForwardedByteForByte()
    {
        await using var llm = RawHttpBackend.Start("llm");
        await using var other = RawHttpBackend.Start("other");
        await using var lb = await HttpLb.StartAsync(Config(llm, other));
        await using var client = await lb.ConnectAsync();
        var chunks = "3\r\n{\"m\r\n0D;x\r\nodel\":\"cheap\"\r\n1\r\n}\r\n0\r\n\r\n";
        var response = await client.RequestAsync(ChunkedHead + chunks).WaitAsync(HttpLb.Timeout);
        Assert.Equal("other", response.Backend);
        Assert.EndsWith("\r\n\r\n" + chunks, other.ReceivedText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccessLog_AliasRoute_NamedInTextAndJson_ListedRoutesByNumber()
    {
        await using var llm = RawHttpBackend.Start("llm");
        await using var other = RawHttpBackend.Start("other");
        var text = _dir.File("text.log");
        var json = _dir.File("json.log");
        // Two listeners on the same routes, one logging text, one JSON.
        var yaml = Config(llm, other, $"    access_log: {{ path: {text} }}");
        yaml = yaml.Replace("services:", $"""
              - name: ai-json
                bind: 127.0.0.1:0
                protocol: http
                access_log: {"{"} path: {json}, format: json {"}"}
                models:
                  gpt-4o-latest: {"{"} service: llm, model: s {"}"}
                  cheap: other
                routes:
                  - match: {"{"} model: gpt-4o {"}"}
                    service: other
                  - service: llm
            services:
            """, StringComparison.Ordinal);
        await using var lb = await HttpLb.StartAsync(yaml);
        var jsonEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, lb.Runtime.Proxy.Listeners[1].EndPoint.Port);
        foreach (var endPoint in new[] { lb.EndPoint, jsonEndPoint })
        {
            await using var client = await HttpClientConnection.ConnectAsync(endPoint).WaitAsync(HttpLb.Timeout);
            foreach (var model in new[] { "gpt-4o-latest", "gpt-4o", "cheap", "unknown" })
            {
                var body = $$"""{"model":"{{model}}"}""";
                var response = await client.RequestAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}").WaitAsync(HttpLb.Timeout);
                Assert.Equal(200, response.Status);
            }
        }

        string[] lines = [];
        await Poll.UntilAsync(() => (lines = File.Exists(text) ? File.ReadAllLines(text) : []).Length >= 4, "4 text lines");
        // The route column: the alias for a models: entry, the position in routes otherwise.
        Assert.Equal(["models:gpt-4o-latest llm", "1 other", "models:cheap other", "2 llm"], lines.Select(l => string.Join(' ', l.Split(' ')[3..5])));
        List<JsonElement> entries = [];
        await Poll.UntilAsync(() => (entries = File.Exists(json) ? [.. File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement)] : []).Count >= 4, "4 JSON lines");
        Assert.Equal(["gpt-4o-latest", null, "cheap", null], entries.Select(e => e.GetProperty("alias").GetString()));
        Assert.Equal([null, 1, null, 2], entries.Select(e => e.GetProperty("route").ValueKind == JsonValueKind.Number ? e.GetProperty("route").GetInt32() : (int?)null));
        Assert.Equal(["gpt-4o-latest", "gpt-4o", "cheap", "unknown"], entries.Select(e => e.GetProperty("model").GetString()));
    }
}
