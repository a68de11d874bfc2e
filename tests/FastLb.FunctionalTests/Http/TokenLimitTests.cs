using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>token_limits: a key over its budget gets 429 with Retry-After until its bucket refilled; other keys go on; streams charge too.</summary>
public sealed class TokenLimitTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    // 3 prompt + 5 completion tokens per answer of the fake backend.
    private const string Completion = """{"model":"m","messages":[{"role":"user","content":"one two three"}]}""";
    private const string Streamed = """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}""";

    private static string Yaml(FakeOpenAiBackend backend, string limits) => $$"""
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
            routes: [ { service: llm } ]
            token_limits: {{limits}}
        services:
          llm:
            pools: { v1: [ {{backend.EndPoint}} ] }
        """;

    // 2 tokens a second, 10 at most: two answers (16 tokens) empty it for about 3 s.
    private const string PerKey = "{ per_key: { tokens_per_minute: 120, burst: 10 } }";

    private static async Task<HttpResponse> PostAsync(IPEndPoint lb, string keyHeader, string json = Completion)
    {
        await using var client = await HttpClientConnection.ConnectAsync(lb).WaitAsync(Wait);
        var body = Encoding.UTF8.GetBytes(json);
        return await client.RequestAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\n{keyHeader}Content-Length: {body.Length}\r\n\r\n", body).WaitAsync(Wait);
    }

    private static string KeyId(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(key)))[..16];

    [Fact]
    public async Task Key_OverItsBudget_429WithRetryAfterOthersServedThenRefills()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        await using var lb = await HttpLb.StartAsync(Yaml(backend, PerKey));
        const string keyA = "x-api-key: sk-test-aaaa\r\n";

        Assert.Equal(200, (await PostAsync(lb.EndPoint, keyA)).Status);
        Assert.Equal(200, (await PostAsync(lb.EndPoint, keyA)).Status);
        var refused = await PostAsync(lb.EndPoint, keyA);
        var clock = Stopwatch.StartNew();

        Assert.Equal(429, refused.Status);
        var retryAfter = int.Parse(refused.Head["retry-after"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 4);
        Assert.Contains("rate_limit_exceeded", refused.BodyText, StringComparison.Ordinal);
        Assert.Equal(2, backend.Requests); // the refused request never reached the backend
        Assert.Equal(200, (await PostAsync(lb.EndPoint, "Authorization: Bearer sk-test-bbbb\r\n")).Status); // another key
        Assert.Equal(200, (await PostAsync(lb.EndPoint, "")).Status); // no key: no per-key limit

        var status = 429;
        while (status == 429 && clock.Elapsed < Wait)
        {
            await Task.Delay(200);
            status = (await PostAsync(lb.EndPoint, keyA)).Status;
        }
        Assert.Equal(200, status);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(retryAfter - 1.5), $"refilled after {clock.Elapsed.TotalSeconds:0.0} s, Retry-After said {retryAfter}");

        var metrics = lb.Metrics();
        Assert.Contains($"fastlb_api_key_tokens_total{{listener=\"ai\",key=\"{KeyId("sk-test-aaaa")}\"}} 24", metrics, StringComparison.Ordinal);
        Assert.Contains($"fastlb_api_key_tokens_total{{listener=\"ai\",key=\"{KeyId("sk-test-bbbb")}\"}} 8", metrics, StringComparison.Ordinal);
        Assert.Contains("fastlb_token_limit_rejected_total{listener=\"ai\",bucket=\"key\"}", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-test", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamedUsage_ChargesTheKeysBucket()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        await using var lb = await HttpLb.StartAsync(Yaml(backend, PerKey));
        const string key = "x-api-key: sk-test-stream\r\n";

        for (var i = 0; i < 2; i++)
        {
            await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
            await client.PostAsync(Streamed, key).WaitAsync(Wait);
            Assert.Equal(200, client.Status);
            while (await client.ReadEventAsync().WaitAsync(Wait) is not null)
            {
            }
        }

        var refused = await PostAsync(lb.EndPoint, key);
        Assert.Equal(429, refused.Status);
        Assert.NotNull(refused.Head["retry-after"]);
    }

    [Fact]
    public async Task Reload_KeyLimitUnchanged_BucketKept()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        await using var lb = await HttpLb.StartAsync(Yaml(backend, "{ per_key: { tokens_per_minute: 12, burst: 10 } }"));
        const string key = "x-api-key: sk-test-reload\r\n";
        await PostAsync(lb.EndPoint, key);
        await PostAsync(lb.EndPoint, key);
        Assert.Equal(429, (await PostAsync(lb.EndPoint, key)).Status);

        // The listener gains a bucket of its own; the key's limit stays as it was, and so does its bucket.
        await lb.RewriteConfigAsync(Yaml(backend, "{ tokens_per_minute: 100000, per_key: { tokens_per_minute: 12, burst: 10 } }"));
        await lb.CtlOkAsync("reload");

        Assert.Equal(429, (await PostAsync(lb.EndPoint, key)).Status);
        Assert.Equal(200, (await PostAsync(lb.EndPoint, "x-api-key: sk-test-other\r\n")).Status);
    }
}
