using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Routing by the JSON body's model through real loopback sockets: the body reaches the backend unchanged.</summary>
public sealed class ModelRoutingTests
{
    private static string Config(RawHttpBackend[] backends, string listenerExtra = "") => $"""
        defaults:
          connect_timeout: 1s
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
        {listenerExtra}
            routes:
              - match: {"{"} model: gpt-4o {"}"}
                service: a
              - match: {"{"} model_prefix: llama- {"}"}
                service: b
              - service: fallback
        services:
          a:
            pools: {"{"} v1: [ {backends[0].EndPoint}, {backends[1].EndPoint} ] {"}"}
          b:
            pools: {"{"} v1: [ {backends[2].EndPoint}, {backends[3].EndPoint} ] {"}"}
          fallback:
            pools: {"{"} v1: [ {backends[4].EndPoint} ] {"}"}
        """;

    private sealed class Backends : IAsyncDisposable
    {
        public RawHttpBackend[] All { get; } =
            [RawHttpBackend.StartEchoBody("a1"), RawHttpBackend.StartEchoBody("a2"), RawHttpBackend.StartEchoBody("b1"), RawHttpBackend.StartEchoBody("b2"), RawHttpBackend.StartEchoBody("fb")];

        public async ValueTask DisposeAsync()
        {
            foreach (var b in All) await b.DisposeAsync();
        }
    }

    private static string Post(byte[] body, string type = "application/json") =>
        $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: {type}\r\nContent-Length: {body.Length}\r\n\r\n";

    [Fact]
    public async Task Post_ModelInBody_RoutedToItsServiceBothBackends_BodyUnchanged()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All));
        await using var client = await lb.ConnectAsync();
        var seen = new HashSet<string>();
        for (int i = 0; i < 4; i++)
        {
            foreach (var (model, names) in new[] { ("gpt-4o", "a1 a2"), ("llama-3.1-70b", "b1 b2"), ("other", "fb") })
            {
                var body = Encoding.UTF8.GetBytes($$"""{"messages":[{"role":"user","content":"hi \"model\": \"x\" \u00e9 {{i}}"}],"model":"{{model}}","stream":false}""");
                var response = await client.RequestAsync(Post(body), body).WaitAsync(HttpLb.Timeout);
                Assert.Equal(200, response.Status);
                Assert.Contains(response.Head["x-backend"]!, names.Split(' '));
                Assert.Equal(body, response.Body);
                seen.Add(response.Head["x-backend"]!);
            }
        }
        Assert.Equal(["a1", "a2", "b1", "b2", "fb"], seen.Order());
    }

    [Fact]
    public async Task Post_BodySplitAcrossSegments_RoutedByModel()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All));
        await using var client = await lb.ConnectAsync();
        var body = Encoding.UTF8.GetBytes("{\"input\":\"" + new string('x', 20_000) + "\",\"mod\\u0065l\":\"llama-3\"}");
        var wire = Encoding.ASCII.GetBytes(Post(body)).Concat(body).ToArray();
        // Pieces that cut the head, the escape and the model value; each is sent on its own after a pause.
        int[] cuts = [30, wire.Length - 30, wire.Length - 17, wire.Length - 9, wire.Length - 2];
        int start = 0;
        foreach (var cut in cuts.Append(wire.Length))
        {
            await client.SendAsync(wire.AsMemory(start, cut - start)).WaitAsync(HttpLb.Timeout);
            start = cut;
            await Task.Delay(20);
        }
        var response = await client.ReadResponseAsync().WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.StartsWith("b", response.Head["x-backend"], StringComparison.Ordinal);
        Assert.Equal(body, response.Body);
    }

    [Fact]
    public async Task Post_ModelHeader_OverridesBody()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All));
        var body = Encoding.UTF8.GetBytes("""{"model":"llama-3"}""");
        var response = await lb.SendOnceAsync(Post(body).Replace("Host: x\r\n", "Host: x\r\nX-FastLb-Model: gpt-4o\r\n", StringComparison.Ordinal) + Encoding.UTF8.GetString(body)).WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.StartsWith("a", response.Head["x-backend"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"messages\":[{\"model\":\"gpt-4o\"}]}", "application/json")]
    [InlineData("{\"model\":\"gpt-4o\"}", "text/plain")]
    [InlineData("not json", "application/json")]
    [InlineData("{\"model\":\"gpt-4o\",\"model\":\"llama-3\"}", "application/json")]
    public async Task Post_NoReadableModel_FallbackRouteOr400WhenRequired(string json, string type)
    {
        await using var backends = new Backends();
        var body = Encoding.UTF8.GetBytes(json);
        await using (var lb = await HttpLb.StartAsync(Config(backends.All)))
        {
            var response = await lb.SendOnceAsync(Post(body, type) + json).WaitAsync(HttpLb.Timeout);
            Assert.Equal(200, response.Status);
            Assert.Equal("fb", response.Head["x-backend"]);
            Assert.Equal(body, response.Body);
        }
        await using (var lb = await HttpLb.StartAsync(Config(backends.All, "    model_required: true")))
        {
            var response = await lb.SendOnceAsync(Post(body, type) + json).WaitAsync(HttpLb.Timeout);
            Assert.Equal(400, response.Status);
        }
    }

    private static string ChunkedPost(string extraHeaders = "") =>
        $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extraHeaders}Transfer-Encoding: chunked\r\n\r\n";

    private static byte[] Chunks(byte[] body, int size)
    {
        var wire = new List<byte>();
        for (int i = 0; i < body.Length; i += size)
        {
            int take = Math.Min(size, body.Length - i);
            wire.AddRange(Encoding.ASCII.GetBytes($"{take:x}\r\n"));
            wire.AddRange(body.AsSpan(i, take).ToArray());
            wire.AddRange("\r\n"u8.ToArray());
        }
        wire.AddRange("0\r\n\r\n"u8.ToArray());
        return [.. wire];
    }

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(100_000)]
    public async Task Post_ChunkedBody_RoutedByModel_ForwardedChunkedAndUnchanged(int chunkSize)
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All));
        await using var client = await lb.ConnectAsync();
        foreach (var (model, prefix) in new[] { ("gpt-4o", "a"), ("llama-3.1-8b", "b"), ("other", "fb") })
        {
            var body = Encoding.UTF8.GetBytes($$"""{"messages":[{"role":"user","content":"{{new string('x', 5000)}} \u00e9"}],"mod\u0065l":"{{model}}"}""");
            var wire = Chunks(body, chunkSize);
            // Sent in pieces that cut chunk lines and the model, each after a pause.
            await client.SendAsync(Encoding.ASCII.GetBytes(ChunkedPost())).WaitAsync(HttpLb.Timeout);
            int start = 0;
            foreach (var cut in new[] { wire.Length / 3, wire.Length - 20, wire.Length - 6, wire.Length })
            {
                await client.SendAsync(wire.AsMemory(start, cut - start)).WaitAsync(HttpLb.Timeout);
                start = cut;
                await Task.Delay(20);
            }
            var response = await client.ReadResponseAsync().WaitAsync(HttpLb.Timeout);
            Assert.Equal(200, response.Status);
            Assert.StartsWith(prefix, response.Head["x-backend"], StringComparison.Ordinal);
            Assert.Equal("chunked", response.Head["x-framing"]);
            Assert.Equal(body, response.Body);
        }
    }

    [Fact]
    public async Task Post_ChunkedBodyWithoutModel_RoutedWithoutModel()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All));
        var json = "{\"messages\":[{\"model\":\"gpt-4o\"}]}";
        var response = await lb.SendOnceAsync(ChunkedPost() + Encoding.ASCII.GetString(Chunks(Encoding.ASCII.GetBytes(json), 7))).WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.Equal("fb", response.Head["x-backend"]);
        Assert.Equal(json, response.BodyText);
    }

    [Fact]
    public async Task Post_BodySlowerThanModelPeekTimeout_RoutedWithoutModel()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(Config(backends.All, "    model_peek_timeout: 300ms"));
        await using var client = await lb.ConnectAsync();
        var body = Encoding.UTF8.GetBytes("""{"model":"gpt-4o"}""");
        var started = System.Diagnostics.Stopwatch.StartNew();
        await client.SendAsync(Encoding.ASCII.GetBytes(Post(body)).Concat(body[..5]).ToArray()).WaitAsync(HttpLb.Timeout);
        // The route is chosen without the model once the wait ends; the body's rest then follows to that backend.
        await Task.Delay(800);
        await client.SendAsync(body.AsMemory(5)).WaitAsync(HttpLb.Timeout);
        var response = await client.ReadResponseAsync().WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.Equal("fb", response.Head["x-backend"]);
        Assert.Equal(body, response.Body);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"took {started.Elapsed}");
    }

    private static string AliasConfig(RawHttpBackend[] backends) => Config(backends, """
            models:
              gpt-4o-latest: { service: b, model: "llama-3.1-70b-instruct-v2 \"q\" é" }
              short: { service: b, model: s }
              cheap: a
        """);

    [Theory]
    [InlineData("""{"model":"gpt-4o-latest","messages":[{"role":"user","content":"keep \"model\":\"gpt-4o-latest\""}]}""")]
    [InlineData("""{"messages":[],"stream":true,"mod\u0065l":"gpt\u002d4o-latest","n":1}""")]
    [InlineData("""{"model":"short","messages":[]}""")]
    public async Task Post_ModelAlias_RewritesOnlyTheModelAndFixesContentLength(string json)
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(AliasConfig(backends.All));
        await using var client = await lb.ConnectAsync();
        var body = Encoding.UTF8.GetBytes(json);
        var scan = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("model").GetString();
        var upstream = scan == "short" ? "s" : "llama-3.1-70b-instruct-v2 \"q\" é";
        var response = await client.RequestAsync(Post(body), body).WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.StartsWith("b", response.Head["x-backend"], StringComparison.Ordinal);
        Assert.Equal(response.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Head["x-content-length"]);
        using var forwarded = System.Text.Json.JsonDocument.Parse(response.Body);
        Assert.Equal(upstream, forwarded.RootElement.GetProperty("model").GetString());
        // Every other property arrives as the client wrote it.
        using var sent = System.Text.Json.JsonDocument.Parse(body);
        foreach (var property in sent.RootElement.EnumerateObject())
        {
            if (property.NameEquals("model")) continue;
            Assert.Equal(property.Value.GetRawText(), forwarded.RootElement.GetProperty(property.Name).GetRawText());
        }
        // The connection stays in step: a second request on it is answered too.
        var again = await client.RequestAsync(Post(body), body).WaitAsync(HttpLb.Timeout);
        Assert.Equal(response.Body, again.Body);
    }

    [Fact]
    public async Task Post_ModelAliasWithoutRewrite_RoutedBodyUnchanged()
    {
        await using var backends = new Backends();
        await using var lb = await HttpLb.StartAsync(AliasConfig(backends.All));
        var body = Encoding.UTF8.GetBytes("""{"model":"cheap"}""");
        var response = await lb.SendOnceAsync(Post(body) + Encoding.UTF8.GetString(body)).WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        Assert.StartsWith("a", response.Head["x-backend"], StringComparison.Ordinal);
        Assert.Equal(body, response.Body);
    }
}
