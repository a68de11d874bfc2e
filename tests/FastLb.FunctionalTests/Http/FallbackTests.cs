using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// fallback: a request whose attempt ends in 429, 503, a connect failure or a timeout before any response byte reached
/// the client is sent again, from the bytes FastLb held, to the next target; never after the first byte, never a body
/// above max_replay_body, never past max_attempts.
/// </summary>
public sealed class FallbackTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const string Completion = """{"model":"llama-3.1-8b","messages":[{"role":"user","content":"one two three"}]}""";

    private static string Yaml(string pools, string active, string fallback, string extraServices = "", string serviceKeys = "") => $$"""
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
            routes: [ { service: llm } ]
        services:
          llm:
            active: {{active}}
            pools: { {{pools}} }
            fallback: {{fallback}}
        {{serviceKeys}}
        {{extraServices}}
        """;

    private static async Task<HttpResponse> PostAsync(IPEndPoint lb, string json = Completion)
    {
        await using var client = await HttpClientConnection.ConnectAsync(lb).WaitAsync(Wait);
        var body = Encoding.UTF8.GetBytes(json);
        return await client.RequestAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n", body).WaitAsync(Wait);
    }

    private static string FallbackSeries(string from, string to, string reason) =>
        $"fastlb_fallbacks_total{{service=\"llm\",from=\"{from}\",to=\"{to}\",reason=\"{reason}\"}}";

    private static double Fallbacks(HttpLb lb, string from, string to, string reason) =>
        PrometheusExposition.Value(lb.Metrics(), "fastlb_fallbacks_total", ("service", "llm"), ("from", from), ("to", to), ("reason", reason));

    [Fact]
    public async Task Fallback_429WithRetryAfter_NextPoolAnswersAndBackendEjectedUntilItPasses()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        v2.RetryAfterSeconds = 2;
        v2.Script(429);
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {v1.EndPoint} ], v2: [ {v2.EndPoint} ]", "v2", "{ on: [429], to: [v1] }"));

        var clock = Stopwatch.StartNew();
        var first = await PostAsync(lb.EndPoint);
        Assert.Equal((200, "v1"), (first.Status, first.Backend));
        Assert.Equal((1, 1), (v2.Requests, v1.Requests));
        Assert.Equal([Completion], v1.Bodies.Select(b => Encoding.UTF8.GetString(b))); // the body replayed as sent

        // v2 asked for 2 s without traffic: requests meanwhile go to the fallback without trying it.
        var second = await PostAsync(lb.EndPoint);
        Assert.Equal((200, "v1"), (second.Status, second.Backend));
        Assert.Equal(1, v2.Requests);

        // Every request is answered meanwhile, also once the routing table knows v2 has nothing healthy (its next tick).
        string? answeredBy = null;
        while (answeredBy != "v2" && clock.Elapsed < Wait)
        {
            var response = await PostAsync(lb.EndPoint);
            Assert.True(response.Status == 200, $"{response.Status} from {response.Backend ?? "FastLb"} after {clock.Elapsed.TotalSeconds:0.00} s");
            answeredBy = response.Backend;
            if (answeredBy != "v2") await Task.Delay(100);
        }
        Assert.Equal("v2", answeredBy);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.8), $"v2 took traffic again after {clock.Elapsed.TotalSeconds:0.00} s, before its Retry-After of 2 s");
        // v2 saw two requests: the 429 and the one it answered (counted served once its answer is sent, so polled).
        await Poll.UntilAsync(() => v2.Served == 1, "v2 counted its answer as served");
        Assert.Equal(2, v2.Requests);
        // The 429 itself and every request that found v2 ejected went on to v1.
        Assert.Equal(v1.Requests, Fallbacks(lb, "llm/v2", "v1", "429"));
    }

    [Fact]
    public async Task Fallback_503_AnotherServiceStreamsTheAnswer()
    {
        await using var main = FakeOpenAiBackend.Start("main");
        await using var backup = FakeOpenAiBackend.Start("backup");
        main.Script(503);
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {main.EndPoint} ]", "v1", "{ on: [503], to: [backup] }",
            extraServices: $"  backup:\n    pools: {{ main: [ {backup.EndPoint} ] }}"));

        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        await client.PostAsync("""{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}""").WaitAsync(Wait);
        var events = new List<string>();
        while (await client.ReadEventAsync().WaitAsync(Wait) is { } e) events.Add(e);

        Assert.Equal((200, "backup"), (client.Status, client.Headers["x-backend"]));
        Assert.Equal("[DONE]", events[^1]);
        // The backend counts an answer as served after its last write, which the client may read first.
        await Poll.UntilAsync(() => backup.Served == 1, "the backup counted its answer", Wait);
        Assert.Equal((1, 0, 1), (main.Requests, main.Served, backup.Served));
        Assert.Contains(FallbackSeries("llm/v1", "backup", "503") + " 1", lb.Metrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fallback_ConnectFailure_NextPoolAnswers()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        var closed = ClosedPort();
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {v1.EndPoint} ], dead: [ {closed} ]", "dead", "{ on: [connect_failure], to: [v1] }"));

        var response = await PostAsync(lb.EndPoint);

        Assert.Equal((200, "v1"), (response.Status, response.Backend));
        Assert.Contains(FallbackSeries("llm/dead", "v1", "connect_failure") + " 1", lb.Metrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fallback_NoResponseHeadInTime_NextPoolAnswers()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var slow = FakeOpenAiBackend.Start("slow");
        slow.TimeToFirstToken = TimeSpan.FromSeconds(30);
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {v1.EndPoint} ], slow: [ {slow.EndPoint} ]", "slow", "{ on: [timeout], to: [v1] }",
            serviceKeys: "    response_head_timeout: 500ms"));

        var clock = Stopwatch.StartNew();
        var response = await PostAsync(lb.EndPoint);

        Assert.Equal((200, "v1"), (response.Status, response.Backend));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(1, slow.Requests);
        Assert.Contains(FallbackSeries("llm/slow", "v1", "timeout") + " 1", lb.Metrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fallback_StreamDiesAfterItsFirstEvent_NeverSentElsewhere()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        var v2 = FakeOpenAiBackend.Start("v2");
        v2.TokenGate = new SemaphoreSlim(0);
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {v1.EndPoint} ], v2: [ {v2.EndPoint} ]", "v2",
            "{ on: [429, 503, connect_failure, timeout], to: [v1] }"));

        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        await client.PostAsync("""{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}""").WaitAsync(Wait);
        Assert.Equal(200, client.Status);
        Assert.NotNull(await client.ReadEventAsync().WaitAsync(Wait));
        await v2.DisposeAsync(); // the backend dies mid-stream

        var done = false;
        try
        {
            while (await client.ReadEventAsync().WaitAsync(Wait) is { } e) done |= e == "[DONE]";
        }
        catch (Exception e) when (e is EndOfStreamException or SocketException)
        {
            // the cut stream: what a client of a dead backend must see
        }

        Assert.False(done);
        Assert.Equal(0, v1.Requests);
        Assert.DoesNotContain("fastlb_fallbacks_total{", lb.Metrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fallback_BodyAboveMaxReplayBody_FirstAnswerPasses()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {v1.EndPoint} ], v2: [ {v2.EndPoint} ]", "v2",
            "{ on: [429], to: [v1], max_replay_body: 100 }"));
        var large = $$"""{"model":"m","messages":[{"role":"user","content":"{{new string('x', 200)}}"}]}""";

        v2.Script(429);
        var refused = await PostAsync(lb.EndPoint, large);
        v2.Script(429);
        var small = await PostAsync(lb.EndPoint, """{"model":"m","messages":[]}""");

        Assert.Equal((429, "v2"), (refused.Status, refused.Backend));
        Assert.Equal((200, "v1"), (small.Status, small.Backend));
        Assert.Equal(1, v1.Requests); // the small one only
    }

    [Theory]
    [InlineData(2, 503, "b")]
    [InlineData(3, 200, "c")]
    public async Task Fallback_MaxAttempts_BoundsTheTargetsTried(int maxAttempts, int status, string answeredBy)
    {
        await using var a = FakeOpenAiBackend.Start("a");
        await using var b = FakeOpenAiBackend.Start("b");
        await using var c = FakeOpenAiBackend.Start("c");
        a.Script(503);
        b.Script(503);
        await using var lb = await HttpLb.StartAsync(Yaml($"a: [ {a.EndPoint} ], b: [ {b.EndPoint} ], c: [ {c.EndPoint} ]", "a",
            $"{{ on: [503], to: [b, c], max_attempts: {maxAttempts} }}"));

        var response = await PostAsync(lb.EndPoint);

        Assert.Equal((status, answeredBy), (response.Status, response.Backend));
        Assert.Equal((1, 1, maxAttempts - 2), (a.Requests, b.Requests, c.Requests));
    }

    [Fact]
    public async Task Fallback_ChunkedBody_ReplayedByteIdentical()
    {
        await using var limited = RawHttpBackend.Start("limited", async (_, connection, ct) =>
        {
            await connection.SendAsync("HTTP/1.1 429 Too Many Requests\r\nx-backend: limited\r\nContent-Length: 0\r\n\r\n", ct);
            return true;
        });
        await using var spare = RawHttpBackend.Start("spare");
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {limited.EndPoint} ], v2: [ {spare.EndPoint} ]", "v1", "{ on: [429], to: [v2] }"));

        // Chunks of several sizes, an extension and a trailer: the replay must carry the framing as the client sent it.
        string[] chunks = ["{\"mod", "el\":\"m\",\"messages\":[1,2,3", "]}"];
        var framed = string.Concat(chunks.Select((c, i) => $"{c.Length:x}{(i == 0 ? ";ext=1" : "")}\r\n{c}\r\n"));
        var body = Encoding.ASCII.GetBytes(framed + "0\r\nx-trailer: t\r\n\r\n");
        await using var client = await HttpClientConnection.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        var response = await client.RequestAsync("POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", body).WaitAsync(Wait);

        Assert.Equal((200, "spare"), (response.Status, response.Backend));
        static string Body(RawHttpBackend backend) => backend.ReceivedText[(backend.ReceivedText.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Equal(Encoding.Latin1.GetString(body), Body(limited));
        Assert.Equal(Body(limited), Body(spare));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fallback_AliasRewrittenBody_ReplayedRewrittenTheSame(bool chunked)
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        v2.Script(429);
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                models:
                  public-model: { service: llm, model: upstream-model-v2 }
                routes: [ { service: llm } ]
            services:
              llm:
                active: v2
                pools: { v1: [ {{v1.EndPoint}} ], v2: [ {{v2.EndPoint}} ] }
                fallback: { on: [429], to: [v1] }
            """);
        const string json = """{"model":"public-model","messages":[{"role":"user","content":"hi"}]}""";
        var body = chunked
            ? Encoding.ASCII.GetBytes($"10\r\n{json[..16]}\r\n{json.Length - 16:x}\r\n{json[16..]}\r\n0\r\n\r\n")
            : Encoding.ASCII.GetBytes(json);
        var framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {body.Length}";

        await using var client = await HttpClientConnection.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        var response = await client.RequestAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\n{framing}\r\n\r\n", body).WaitAsync(Wait);

        Assert.Equal((200, "v1"), (response.Status, response.Backend));
        var expected = json.Replace("public-model", "upstream-model-v2", StringComparison.Ordinal);
        Assert.Equal(expected, Encoding.UTF8.GetString(v2.Bodies.Single()));
        Assert.Equal(expected, Encoding.UTF8.GetString(v1.Bodies.Single()));
    }

    [Fact]
    public async Task Fallback_429BeforeTheBodyArrived_HeldPartThenTheRestReachTheNextTarget()
    {
        var answered = 0;
        // Answers 429 as soon as the head arrived, before any body byte, then reads whatever comes until the close.
        await using var early = LoopbackBackend.Start("early", async (socket, ct) =>
        {
            if (!await ReadHeadAsync(socket, ct)) return;
            await socket.SendAsync("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), SocketFlags.None, ct);
            Interlocked.Increment(ref answered);
            var sink = new byte[4096];
            while (await socket.ReceiveAsync(sink, SocketFlags.None, ct) > 0)
            {
            }
        });
        await using var spare = RawHttpBackend.Start("spare");
        await using var lb = await HttpLb.StartAsync(Yaml($"v1: [ {early.EndPoint} ], v2: [ {spare.EndPoint} ]", "v1", "{ on: [429], to: [v2] }"));
        var json = $$"""{"model":"m","messages":[{"role":"user","content":"{{new string('w', 3000)}}"}]}""";
        var body = Encoding.ASCII.GetBytes(json);

        await using var client = await HttpClientConnection.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        await client.SendAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n").WaitAsync(Wait);
        await client.SendAsync(body.AsMemory(0, 1000)).WaitAsync(Wait);
        await Poll.UntilAsync(() => Volatile.Read(ref answered) == 1 && spare.ReceivedText.Contains("POST", StringComparison.Ordinal), "the 429 and the replay to spare");
        await client.SendAsync(body.AsMemory(1000)).WaitAsync(Wait);
        var response = await client.ReadFinalResponseAsync().WaitAsync(Wait);

        Assert.Equal((200, "spare"), (response.Status, response.Backend));
        Assert.Equal(json, spare.Requests.Single().BodyText);
    }

    /// <summary>Reads a request head byte by byte, nothing past it; false on a close before it ended.</summary>
    private static async Task<bool> ReadHeadAsync(Socket socket, CancellationToken ct)
    {
        var one = new byte[1];
        var tail = 0u;
        while (tail != 0x0d0a0d0a)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, ct) == 0) return false;
            tail = (tail << 8) | one[0];
        }
        return true;
    }

    private static IPEndPoint ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }
}
