using System.Text.Json;
using FastLb.FunctionalTests.Host;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Token usage read from completions as they pass: the access log and the backend's token counters match the backend's own usage.</summary>
public sealed class ModelUsageTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Completions_StreamedAndWhole_UsageInAccessLogAndMetrics()
    {
        await using var backend = FakeOpenAiBackend.Start("v1");
        backend.CompletionTokens = 4;
        var log = _dir.File("access.log");
        await using var lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                access_log: { path: {{log}}, format: json }
                routes:
                  - match: { model_prefix: llama- }
                    service: llm
            services:
              llm:
                pools: { v1: [ {{backend.EndPoint}} ] }
            """);
        await using (var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait))
        {
            await client.PostAsync("""{"model":"llama-3.1-8b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}""").WaitAsync(Wait);
            while (await client.ReadEventAsync().WaitAsync(Wait) is not null)
            {
            }
        }
        await using (var client = await SseTestClient.ConnectAsync(lb.EndPoint).WaitAsync(Wait))
        {
            // A whole (non-streamed) completion: the usage is the response's top-level object.
            await client.PostAsync("""{"model":"llama-3.1-70b","messages":[{"role":"user","content":"a b c d e"}]}""").WaitAsync(Wait);
            Assert.Equal(200, client.Status);
        }

        List<JsonElement> entries = [];
        await Poll.UntilAsync(() =>
        {
            entries = File.Exists(log) ? [.. File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement)] : [];
            return entries.Count >= 2;
        }, "2 access log lines");
        var streamed = entries.Single(e => e.GetProperty("model").GetString() == "llama-3.1-8b");
        Assert.Equal((3, 4), (streamed.GetProperty("prompt_tokens").GetInt64(), streamed.GetProperty("completion_tokens").GetInt64()));
        var whole = entries.Single(e => e.GetProperty("model").GetString() == "llama-3.1-70b");
        Assert.Equal((5, 4), (whole.GetProperty("prompt_tokens").GetInt64(), whole.GetProperty("completion_tokens").GetInt64()));

        string metrics = "";
        await Poll.UntilAsync(() =>
        {
            metrics = lb.Metrics();
            return metrics.Contains($"fastlb_backend_completion_tokens_total{{service=\"llm\",pool=\"v1\",backend=\"{backend.EndPoint}\"}} 8", StringComparison.Ordinal);
        }, "completion tokens counted");
        Assert.Contains($"fastlb_backend_prompt_tokens_total{{service=\"llm\",pool=\"v1\",backend=\"{backend.EndPoint}\"}} 8", metrics, StringComparison.Ordinal);
    }
}
