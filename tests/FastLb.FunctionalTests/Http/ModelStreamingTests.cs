using System.Text.Json;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>OpenAI-style completions through FastLb against the fake backend: streams pass event by event.</summary>
public sealed class ModelStreamingTests
{
    private static string Config(FakeOpenAiBackend backend, string serviceExtra = "") => $$"""
        defaults:
          connect_timeout: 1s
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
            routes:
              - match: { model_prefix: llama- }
                service: llm
        services:
          llm:
        {{serviceExtra}}
            pools: { v1: [ {{backend.EndPoint}} ] }
        """;

    private const string StreamRequest =
        """{"model":"llama-3.1-8b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}""";

    [Fact]
    public async Task Stream_EachEventForwardedBeforeTheNextIsSent()
    {
        await using var backend = FakeOpenAiBackend.Start();
        using var gate = new SemaphoreSlim(0);
        backend.TokenGate = gate;
        backend.CompletionTokens = 4;
        await using var lb = await HttpLb.StartAsync(Config(backend));
        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(HttpLb.Timeout);
        await client.PostAsync(StreamRequest).WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, client.Status);
        Assert.Equal("text/event-stream", client.Headers["content-type"]);
        // The backend sends token i+1 only after the client got token i through FastLb: a proxy that buffered would stall here.
        for (int i = 0; i < 4; i++)
        {
            var data = await client.ReadEventAsync().WaitAsync(HttpLb.Timeout);
            Assert.NotNull(data);
            using var chunk = JsonDocument.Parse(data);
            Assert.EndsWith($"w{i}", chunk.RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString(), StringComparison.Ordinal);
            gate.Release();
        }
        using var usage = JsonDocument.Parse((await client.ReadEventAsync().WaitAsync(HttpLb.Timeout))!);
        Assert.Equal(3 + 4, usage.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal("[DONE]", await client.ReadEventAsync().WaitAsync(HttpLb.Timeout));
        Assert.Null(await client.ReadEventAsync().WaitAsync(HttpLb.Timeout));
    }

    [Fact]
    public async Task NonStreamed_CompletionAnsweredWhole_WithUsage()
    {
        await using var backend = FakeOpenAiBackend.Start();
        await using var lb = await HttpLb.StartAsync(Config(backend));
        var json = """{"model":"llama-3.1-8b","messages":[{"role":"user","content":"a b"}]}""";
        var response = await lb.SendOnceAsync(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\nConnection: close\r\n\r\n{json}").WaitAsync(HttpLb.Timeout);
        Assert.Equal(200, response.Status);
        using var body = JsonDocument.Parse(response.Body);
        Assert.Equal(2 + 5, body.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(["llama-3.1-8b"], backend.Models);
    }

    [Fact]
    public async Task Stream_LongerThanStreamIdleTimeout_NotCutWhileEventsFlow()
    {
        await using var backend = FakeOpenAiBackend.Start();
        // 8 tokens 400 ms apart: the stream lasts 2.8 s, clearly past the 2 s stream_idle_timeout (with 6 tokens it
        // lasted exactly 2.0 s, and a timer firing a millisecond early made the length check fail).
        backend.CompletionTokens = 8;
        backend.InterTokenDelay = TimeSpan.FromMilliseconds(400);
        await using var lb = await HttpLb.StartAsync(Config(backend, "    stream_idle_timeout: 2s"));
        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(HttpLb.Timeout);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await client.PostAsync(StreamRequest).WaitAsync(HttpLb.Timeout);
        var events = new List<string>();
        while (await client.ReadEventAsync().WaitAsync(HttpLb.Timeout) is { } data) events.Add(data);
        Assert.Equal(8 + 2, events.Count); // the tokens, the usage event and [DONE]
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(2), $"the stream took {started.Elapsed}");
    }

    [Fact]
    public async Task Stream_StallsPastStreamIdleTimeout_Cut()
    {
        await using var backend = FakeOpenAiBackend.Start();
        using var gate = new SemaphoreSlim(0); // never released: the stream stalls after its first event
        backend.TokenGate = gate;
        await using var lb = await HttpLb.StartAsync(Config(backend, "    stream_idle_timeout: 1s\n    idle_timeout: 60s"));
        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(HttpLb.Timeout);
        await client.PostAsync(StreamRequest).WaitAsync(HttpLb.Timeout);
        Assert.NotNull(await client.ReadEventAsync().WaitAsync(HttpLb.Timeout));
        var stalled = System.Diagnostics.Stopwatch.StartNew();
        // Cut: the body ends without its last chunk (a close or reset), well before the test's own timeout.
        var error = await Record.ExceptionAsync(() => client.ReadEventAsync().WaitAsync(HttpLb.Timeout));
        Assert.True(error is EndOfStreamException or System.Net.Sockets.SocketException, $"expected a cut, got {error?.GetType().Name ?? "a clean end"}");
        Assert.InRange(stalled.Elapsed, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(9));
    }
}
