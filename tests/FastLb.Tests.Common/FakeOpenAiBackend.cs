using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace FastLb.Tests.Common;

/// <summary>
/// An OpenAI-compatible chat completions server on 127.0.0.1:0 for tests: answers <c>POST /v1/chat/completions</c>
/// whole or, with <c>"stream": true</c>, as server-sent events sent one chunk per token with the configured timing;
/// reports <c>usage</c> (in the final event when <c>stream_options.include_usage</c> is set); and fails on demand
/// (scripted statuses such as 429 with Retry-After, or a share of 500s). No network, no model: the tokens are words.
/// </summary>
internal sealed class FakeOpenAiBackend : IAsyncDisposable
{
    private readonly RawHttpBackend _server;
    private readonly ConcurrentQueue<int> _scripted = new();
    private int _requests;
    private int _served;

    private FakeOpenAiBackend(string name)
    {
        _server = RawHttpBackend.Start(name, RespondAsync);
    }

    public string Name => _server.Name;
    public IPEndPoint EndPoint => _server.EndPoint;

    /// <summary>Delay before the response head (non-streamed) or the first token event (streamed).</summary>
    public TimeSpan TimeToFirstToken { get; set; }

    /// <summary>Delay between token events of a stream.</summary>
    public TimeSpan InterTokenDelay { get; set; }

    /// <summary>When set, a stream sends each token after the first only once the gate is released (one release per token).</summary>
    public SemaphoreSlim? TokenGate { get; set; }

    /// <summary>Completion tokens per answer.</summary>
    public int CompletionTokens { get; set; } = 5;

    /// <summary>Share of requests (0..1, by request count, not random) answered <see cref="ErrorStatus"/>.</summary>
    public double ErrorShare { get; set; }

    public int ErrorStatus { get; set; } = 500;

    /// <summary>Retry-After seconds sent with a scripted 429.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Requests received, answered or not.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests answered 200.</summary>
    public int Served => Volatile.Read(ref _served);

    /// <summary>The model names the requests carried, in arrival order.</summary>
    public ConcurrentQueue<string> Models { get; } = new();

    /// <summary>The raw request bodies, in arrival order.</summary>
    public ConcurrentQueue<byte[]> Bodies { get; } = new();

    public static FakeOpenAiBackend Start(string name = "llm") => new(name);

    /// <summary>The next requests get these statuses (e.g. 429, 503) before normal answers resume.</summary>
    public void Script(params int[] statuses)
    {
        foreach (var status in statuses) _scripted.Enqueue(status);
    }

    /// <summary>Prompt tokens the server counts for <paramref name="body"/>: one per word of the messages' content.</summary>
    public static int PromptTokens(JsonElement root)
    {
        var count = 0;
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in messages.EnumerateArray())
            {
                if (m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    count += c.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
                }
            }
        }
        return count;
    }

    private async Task<bool> RespondAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        var n = Interlocked.Increment(ref _requests);
        Bodies.Enqueue(request.Body);
        if (_scripted.TryDequeue(out var status) || (status = ShareStatus(n)) != 0)
        {
            await SendErrorAsync(connection, status, ct).ConfigureAwait(false);
            return true;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(request.Body);
        }
        catch (JsonException)
        {
            await connection.SendAsync(Head(400, "application/json", 0, ""), ct).ConfigureAwait(false);
            return true;
        }
        using (document)
        {
            var root = document.RootElement;
            var model = root.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
            Models.Enqueue(model);
            var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            var includeUsage = root.TryGetProperty("stream_options", out var o) && o.TryGetProperty("include_usage", out var u) && u.ValueKind == JsonValueKind.True;
            var prompt = PromptTokens(root);
            if (TimeToFirstToken > TimeSpan.Zero) await Task.Delay(TimeToFirstToken, ct).ConfigureAwait(false);
            if (stream) await StreamAsync(connection, model, prompt, includeUsage, n, ct).ConfigureAwait(false);
            else await CompleteAsync(connection, model, prompt, n, ct).ConfigureAwait(false);
            Interlocked.Increment(ref _served);
        }
        return true;
    }

    private int ShareStatus(int n)
    {
        var share = ErrorShare;
        if (share <= 0) return 0;
        // Deterministic: request n fails when the running count of failures falls behind share * n.
        return Math.Floor(n * share) > Math.Floor((n - 1) * share) ? ErrorStatus : 0;
    }

    private string Head(int status, string type, int length, string extra) =>
        $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Error")}\r\nx-backend: {Name}\r\nContent-Type: {type}\r\n{extra}" +
        (length >= 0 ? $"Content-Length: {length}\r\n" : "Transfer-Encoding: chunked\r\n") + "\r\n";

    private async Task SendErrorAsync(BackendConnection connection, int status, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes($$$"""{"error":{"message":"injected {{{status}}}","type":"{{{(status == 429 ? "rate_limit_exceeded" : "server_error")}}}"}}""");
        var extra = status == 429 ? $"Retry-After: {RetryAfterSeconds}\r\n" : "";
        await connection.SendAsync(Head(status, "application/json", body.Length, extra), ct).ConfigureAwait(false);
        await connection.SendAsync(body, ct).ConfigureAwait(false);
    }

    private string Words(int count) => string.Join(' ', Enumerable.Range(0, count).Select(i => $"w{i}"));

    private async Task CompleteAsync(BackendConnection connection, string model, int prompt, int n, CancellationToken ct)
    {
        var completion = CompletionTokens;
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = $"chatcmpl-{n}",
            ["object"] = "chat.completion",
            ["model"] = model,
            ["choices"] = new object[] { new Dictionary<string, object> { ["index"] = 0, ["message"] = new Dictionary<string, string> { ["role"] = "assistant", ["content"] = Words(completion) }, ["finish_reason"] = "stop" } },
            ["usage"] = new Dictionary<string, int> { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion },
        }));
        await connection.SendAsync(Head(200, "application/json", body.Length, ""), ct).ConfigureAwait(false);
        await connection.SendAsync(body, ct).ConfigureAwait(false);
    }

    private async Task StreamAsync(BackendConnection connection, string model, int prompt, bool includeUsage, int n, CancellationToken ct)
    {
        await connection.SendAsync(Head(200, "text/event-stream", -1, "Cache-Control: no-cache\r\n"), ct).ConfigureAwait(false);
        var completion = CompletionTokens;
        for (int i = 0; i < completion; i++)
        {
            if (i > 0 && InterTokenDelay > TimeSpan.Zero) await Task.Delay(InterTokenDelay, ct).ConfigureAwait(false);
            if (i > 0 && TokenGate is { } gate) await gate.WaitAsync(ct).ConfigureAwait(false);
            var delta = i == 0 ? $$"""{"role":"assistant","content":"w{{i}}"}""" : $$"""{"content":" w{{i}}"}""";
            await SendEventAsync(connection, $$"""{"id":"chatcmpl-{{n}}","object":"chat.completion.chunk","model":"{{model}}","choices":[{"index":0,"delta":{{delta}}}]}""", ct).ConfigureAwait(false);
        }
        if (includeUsage)
        {
            await SendEventAsync(connection, $$$"""{"id":"chatcmpl-{{{n}}}","object":"chat.completion.chunk","model":"{{{model}}}","choices":[],"usage":{"prompt_tokens":{{{prompt}}},"completion_tokens":{{{completion}}},"total_tokens":{{{prompt + completion}}}}}""", ct).ConfigureAwait(false);
        }
        await SendEventAsync(connection, "[DONE]", ct).ConfigureAwait(false);
        await connection.SendAsync("0\r\n\r\n"u8.ToArray(), ct).ConfigureAwait(false);
    }

    /// <summary>One SSE event in its own chunk, sent at once.</summary>
    private static async Task SendEventAsync(BackendConnection connection, string data, CancellationToken ct)
    {
        var payload = Encoding.UTF8.GetBytes($"data: {data}\n\n");
        var chunk = Encoding.ASCII.GetBytes($"{payload.Length:x}\r\n").Concat(payload).Concat("\r\n"u8.ToArray()).ToArray();
        await connection.SendAsync(chunk, ct).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
