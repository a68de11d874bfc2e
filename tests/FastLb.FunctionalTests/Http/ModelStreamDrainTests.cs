using System.Diagnostics;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// A release while a completion streams: the swap moves new requests at once, and the drain of the old version waits
/// for the open stream like it waits for a WebSocket tunnel, up to drain_timeout, then cuts it.
/// </summary>
public sealed class ModelStreamDrainTests
{
    private const string StreamRequest =
        """{"model":"llama-3.1-8b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}""";

    private static string Config(FakeOpenAiBackend v1, FakeOpenAiBackend v2, string drainTimeout) => $$"""
        defaults:
          connect_timeout: 1s
          drain_timeout: {{drainTimeout}}
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
            routes:
              - match: { model_prefix: llama- }
                service: llm
        services:
          llm:
            pools:
              v1: [ {{v1.EndPoint}} ]
              v2: [ {{v2.EndPoint}} ]
            active: v1
        """;

    [Fact]
    public async Task Swap_OpenStreamOnOldVersion_DrainWaitsForItToFinish()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        using var gate = new SemaphoreSlim(0);
        v1.TokenGate = gate;
        v1.CompletionTokens = 3;
        await using var lb = await HttpLb.StartAsync(Config(v1, v2, "30s"));
        await using var stream = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(HttpLb.Timeout);
        await stream.PostAsync(StreamRequest).WaitAsync(HttpLb.Timeout);
        Assert.NotNull(await stream.ReadEventAsync().WaitAsync(HttpLb.Timeout)); // v1 is streaming

        lb.Controller.Swap("llm", "v2");
        var drain = Assert.Single(lb.Controller.Drains, d => d.Pool == "v1");
        Assert.Equal(1, drain.Live);
        Assert.Null(drain.DrainedAt);

        // New completions go to v2 while v1's stream goes on.
        var json = """{"model":"llama-3.1-8b","messages":[{"role":"user","content":"a b"}]}""";
        var response = await lb.SendOnceAsync(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\nConnection: close\r\n\r\n{json}").WaitAsync(HttpLb.Timeout);
        Assert.Equal((200, "v2"), (response.Status, response.Backend));
        Assert.Equal(1, v2.Requests); // Served counts only once the answer is sent: the client may read it first

        // The stream finishes whole on v1, every event in order.
        gate.Release(3);
        var events = new List<string>();
        while (await stream.ReadEventAsync().WaitAsync(HttpLb.Timeout) is { } data) events.Add(data);
        Assert.Equal(2 + 2, events.Count); // the two tokens left, the usage event and [DONE]
        Assert.Equal("[DONE]", events[^1]);

        // Then the drain reaches 0 without cutting anything.
        await Poll.UntilAsync(() => drain.DrainedAt is not null, "the v1 drain reached 0");
        Assert.Equal(0, drain.Aborted);
    }

    [Fact]
    public async Task Swap_StreamOutlivesDrainTimeout_CutAtTheDeadline()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        using var gate = new SemaphoreSlim(0); // never released: the stream outlives the drain
        v1.TokenGate = gate;
        await using var lb = await HttpLb.StartAsync(Config(v1, v2, "1s"));
        await using var stream = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(HttpLb.Timeout);
        await stream.PostAsync(StreamRequest).WaitAsync(HttpLb.Timeout);
        Assert.NotNull(await stream.ReadEventAsync().WaitAsync(HttpLb.Timeout));

        var swapped = Stopwatch.StartNew();
        lb.Controller.Swap("llm", "v2");
        var drain = Assert.Single(lb.Controller.Drains, d => d.Pool == "v1");

        // Cut: the body ends without its last chunk, after the deadline and well before the test's own timeout.
        var error = await Record.ExceptionAsync(async () =>
        {
            while (await stream.ReadEventAsync().WaitAsync(HttpLb.Timeout) is not null)
            {
            }
        });
        Assert.True(error is EndOfStreamException or System.Net.Sockets.SocketException, $"expected a cut, got {error?.GetType().Name ?? "a clean end"}");
        Assert.True(swapped.Elapsed >= TimeSpan.FromSeconds(0.9), $"cut after {swapped.Elapsed}, before drain_timeout");
        await Poll.UntilAsync(() => drain.Aborted == 1 && drain.DrainedAt is not null, "the v1 drain cut the stream and reached 0");
    }
}
