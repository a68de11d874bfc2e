using System.Text.Json;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Per-model counters end to end: /metrics, status and its text form count each request under a label the config names.</summary>
public sealed class ModelMetricsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static async Task CompleteAsync(HttpLb lb, string json)
    {
        await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
        await client.PostAsync(json).WaitAsync(Wait);
        if (json.Contains("\"stream\":true", StringComparison.Ordinal))
        {
            while (await client.ReadEventAsync().WaitAsync(Wait) is not null)
            {
            }
        }
    }

    [Fact]
    public async Task Requests_CountedByConfiguredModelLabel_TokensFirstByteStreams429()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        backend.TimeToFirstToken = TimeSpan.FromMilliseconds(150);
        backend.CompletionTokens = 4;
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                models:
                  gpt-4o-latest: { service: llm, model: gpt-4o-2026 }
                routes:
                  - match: { model: [gpt-4o, gpt-4o-mini] }
                    service: llm
                  - match: { model_prefix: llama- }
                    service: llm
                  - service: llm
            services:
              llm:
                pools: { v1: [ {{backend.EndPoint}} ] }
            """);
        const string Messages = "\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}]";
        await CompleteAsync(lb, $$"""{"model":"gpt-4o-latest","stream":true,"stream_options":{"include_usage":true},{{Messages}}}""");
        await CompleteAsync(lb, $$"""{"model":"gpt-4o-mini",{{Messages}}}""");
        await CompleteAsync(lb, $$"""{"model":"llama-3.1-8b",{{Messages}}}""");
        await CompleteAsync(lb, $$"""{"model":"llama-3.1-70b",{{Messages}}}""");
        await CompleteAsync(lb, $$"""{"model":"someone-elses-model",{{Messages}}}""");
        await CompleteAsync(lb, $$"""{{{Messages}}}""");
        backend.Script(429);
        await CompleteAsync(lb, $$"""{"model":"gpt-4o",{{Messages}}}""");

        // Counted when each request ends: poll until the last one is in.
        string metrics = "";
        await Poll.UntilAsync(() =>
        {
            metrics = lb.Metrics();
            return PrometheusExposition.Sum(metrics, "fastlb_model_requests_total") >= 7;
        }, "7 requests counted by model");
        Assert.Empty(PrometheusExposition.Validate(metrics));
        double Requests(string model) => PrometheusExposition.Sum(metrics, "fastlb_model_requests_total", ("service", "llm"), ("pool", "v1"), ("model", model));
        // Labels from the config only: the alias, the model: name matched, the prefix, and the two folded values.
        Assert.Equal(
            ["_none", "_other", "gpt-4o", "gpt-4o-latest", "gpt-4o-mini", "llama-*"],
            PrometheusExposition.Samples(metrics).Where(s => s.Name == "fastlb_model_requests_total").Select(s => s.Label("model")!).Order(StringComparer.Ordinal));
        Assert.Equal((1, 1, 2, 1, 1, 1), (Requests("gpt-4o-latest"), Requests("gpt-4o-mini"), Requests("llama-*"), Requests("_other"), Requests("_none"), Requests("gpt-4o")));
        Assert.Equal(1, PrometheusExposition.Sum(metrics, "fastlb_model_rate_limited_total", ("model", "gpt-4o")));
        Assert.Equal(0, PrometheusExposition.Sum(metrics, "fastlb_model_rate_limited_total", ("model", "llama-*")));
        Assert.Equal(6, PrometheusExposition.Sum(metrics, "fastlb_model_prompt_tokens_total", ("model", "llama-*")));
        Assert.Equal(8, PrometheusExposition.Sum(metrics, "fastlb_model_completion_tokens_total", ("model", "llama-*")));
        Assert.Equal(4, PrometheusExposition.Sum(metrics, "fastlb_model_completion_tokens_total", ("model", "gpt-4o-latest")));
        // Every answered request waited at least the backend's 150 ms for its first body byte; only the stream has a stream duration.
        Assert.Equal(2, PrometheusExposition.Sum(metrics, "fastlb_model_time_to_first_byte_seconds_count", ("model", "llama-*")));
        Assert.True(PrometheusExposition.Sum(metrics, "fastlb_model_time_to_first_byte_seconds_sum", ("model", "llama-*")) >= 0.3);
        Assert.Equal(0, PrometheusExposition.Sum(metrics, "fastlb_model_time_to_first_byte_seconds_bucket", ("model", "llama-*"), ("le", "0.1")));
        Assert.Equal(1, PrometheusExposition.Sum(metrics, "fastlb_model_stream_duration_seconds_count", ("model", "gpt-4o-latest")));
        Assert.Equal(0, PrometheusExposition.Sum(metrics, "fastlb_model_stream_duration_seconds_count", ("model", "llama-*")));

        var status = await lb.CtlOkAsync("status");
        var models = status.GetProperty("services").GetProperty("llm").GetProperty("models").EnumerateArray().ToList();
        var llama = models.Single(m => m.GetProperty("model").GetString() == "llama-*");
        Assert.Equal("v1", llama.GetProperty("pool").GetString());
        Assert.Equal((2, 6, 8, 0), (llama.GetProperty("requests").GetInt64(), llama.GetProperty("prompt_tokens").GetInt64(), llama.GetProperty("completion_tokens").GetInt64(), llama.GetProperty("streams").GetInt64()));
        // A quantile interpolates within a histogram bin (100-150 ms, 150-200 ms) and a 150 ms timer may fire a
        // fraction of a millisecond early against FastLb's clock: the bin's lower bound is what it must clear.
        Assert.InRange(llama.GetProperty("first_byte_p50_ms").GetDouble(), 100, 10_000);
        Assert.Equal(JsonValueKind.Null, llama.GetProperty("stream_p50_ms").ValueKind);
        var alias = models.Single(m => m.GetProperty("model").GetString() == "gpt-4o-latest");
        Assert.Equal(1, alias.GetProperty("streams").GetInt64());
        Assert.InRange(alias.GetProperty("stream_p99_ms").GetDouble(), 100, 10_000);
        Assert.Equal(1, models.Single(m => m.GetProperty("model").GetString() == "gpt-4o").GetProperty("status_429").GetInt64());

        // The last minute next to the totals: once a tick closed the second they ended in.
        JsonElement recent = default;
        await HttpLb.WaitUntilAsync(async () =>
        {
            status = await lb.CtlOkAsync("status");
            recent = status.GetProperty("services").GetProperty("llm").GetProperty("models").EnumerateArray()
                .Single(m => m.GetProperty("model").GetString() == "llama-*").GetProperty("recent");
            return recent.GetProperty("requests").GetInt64() == 2;
        }, "llama-*'s two requests in the last minute", Wait);
        Assert.InRange(recent.GetProperty("window_seconds").GetInt32(), 1, 60);
        Assert.True(recent.GetProperty("requests_per_second").GetDouble() > 0);
        Assert.True(recent.GetProperty("completion_tokens_per_second").GetDouble() > 0);
        Assert.InRange(recent.GetProperty("first_byte_p50_ms").GetDouble(), 100, 10_000);
        var text = ReplyFormatter.Format(status.GetRawText());
        Assert.Contains("  model llama-* on v1  requests 2  429 0  tokens 6 in / 8 out  first byte p50 ", text, StringComparison.Ordinal);
        Assert.Contains("\n    last ", text, StringComparison.Ordinal);
        Assert.Contains("  model gpt-4o-latest on v1  requests 1  429 0  tokens 3 in / 4 out  first byte p50 ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenLimitRefusal_CountedUnderItsModelOnPoolNone()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        // 3 prompt + 5 completion tokens an answer: the first answer empties the 8-token bucket for about 4 minutes.
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                models:
                  gpt-4o-latest: { service: llm, model: gpt-4o-2026 }
                routes:
                  - service: llm
                token_limits: { tokens_per_minute: 2, burst: 8 }
            services:
              llm:
                pools: { v1: [ {{backend.EndPoint}} ] }
            """);
        const string Body = """{"model":"gpt-4o-latest","messages":[{"role":"user","content":"one two three"}]}""";
        await using (var first = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait))
        {
            await first.PostAsync(Body).WaitAsync(Wait);
            Assert.Equal(200, first.Status);
        }
        // The charge lands when the first request ends: send until the bucket has refused two.
        var refused = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (refused < 2)
        {
            Assert.True(clock.Elapsed < Wait, "two requests refused by the token bucket");
            await using var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait);
            await client.PostAsync(Body).WaitAsync(Wait);
            if (client.Status == 429) refused++;
        }

        var metrics = lb.Metrics();
        Assert.Empty(PrometheusExposition.Validate(metrics));
        double Sum(string family, string pool) => PrometheusExposition.Sum(metrics, family, ("service", "llm"), ("pool", pool), ("model", "gpt-4o-latest"));
        Assert.Equal((2, 2), (Sum("fastlb_model_requests_total", "_none"), Sum("fastlb_model_rate_limited_total", "_none")));
        Assert.Equal(0, Sum("fastlb_model_rate_limited_total", "v1"));
        Assert.Equal(0, PrometheusExposition.Sum(metrics, "fastlb_model_time_to_first_byte_seconds_count", ("pool", "_none")));
        Assert.Equal(backend.Requests, (int)Sum("fastlb_model_requests_total", "v1")); // the refused never reached it

        var status = await lb.CtlOkAsync("status");
        var none = status.GetProperty("services").GetProperty("llm").GetProperty("models").EnumerateArray()
            .Single(m => m.GetProperty("pool").GetString() == "_none");
        Assert.Equal(("gpt-4o-latest", 2, 2), (none.GetProperty("model").GetString(), none.GetProperty("requests").GetInt64(), none.GetProperty("status_429").GetInt64()));
        Assert.Contains("  model gpt-4o-latest refused by token limits  requests 2  429 2  ", ReplyFormatter.Format(status.GetRawText()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListenerWithoutModelRoutes_NoModelSeries()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes: [ { service: llm } ]
            services:
              llm:
                pools: { v1: [ {{backend.EndPoint}} ] }
            """);
        await CompleteAsync(lb, """{"model":"gpt-4o","messages":[]}""");
        await Poll.UntilAsync(() => PrometheusExposition.Sum(lb.Metrics(), "fastlb_backend_requests_total") >= 1, "the request counted");
        Assert.Equal(0, PrometheusExposition.Samples(lb.Metrics()).Count(s => s.Name.StartsWith("fastlb_model_", StringComparison.Ordinal)));
        var status = await lb.CtlOkAsync("status");
        Assert.Empty(status.GetProperty("services").GetProperty("llm").GetProperty("models").EnumerateArray());
    }
}
