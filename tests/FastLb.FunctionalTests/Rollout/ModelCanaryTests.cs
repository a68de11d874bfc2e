using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>A model version released as a canary with rollout: the model route's service has one pool per version.</summary>
public sealed class ModelCanaryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static string Yaml(FakeOpenAiBackend v1, FakeOpenAiBackend v2) => $$"""
        defaults:
          drain_timeout: 2s
        listeners:
          - name: ai
            bind: 127.0.0.1:0
            protocol: http
            routes:
              - match: { model_prefix: llama-3.1 }
                service: llm
        services:
          llm:
            active: v1
            pools:
              v1: [ {{v1.EndPoint}} ]
              v2: [ {{v2.EndPoint}} ]
        """;

    /// <summary>Keep-alive clients that post chat completions for one model until disposed, recording who answered.</summary>
    private sealed class CompletionClients : IAsyncDisposable
    {
        private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"model":"llama-3.1-70b","messages":[{"role":"user","content":"hello there"}]}""");
        private static readonly string Head =
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: {Body.Length}\r\n\r\n";

        private readonly CancellationTokenSource _stop = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Task[] _loops;

        public CompletionClients(IPEndPoint endPoint, int count) =>
            _loops = [.. Enumerable.Range(0, count).Select(_ => Task.Run(() => LoopAsync(endPoint)))];

        public ConcurrentQueue<(long AtMs, string? Backend, int Status)> Answers { get; } = new();

        public long NowMs => _clock.ElapsedMilliseconds;

        private async Task LoopAsync(IPEndPoint endPoint)
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await using var client = await HttpClientConnection.ConnectAsync(endPoint).WaitAsync(Wait);
                    while (!_stop.IsCancellationRequested)
                    {
                        var response = await client.RequestAsync(Head, Body).WaitAsync(Wait);
                        Answers.Enqueue((NowMs, response.Head["x-backend"], response.Status));
                    }
                }
                catch (Exception) when (!_stop.IsCancellationRequested)
                {
                    await Task.Delay(10);
                }
                catch (Exception)
                {
                    return;
                }
            }
        }

        public Task WaitForAnswersAsync(int more, TimeSpan timeout)
        {
            var target = Answers.Count + more;
            return HttpLb.WaitUntilAsync(() => Task.FromResult(Answers.Count >= target), $"{target} answers", timeout);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await Task.WhenAll(_loops).WaitAsync(Wait);
            }
            catch (Exception)
            {
            }
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Rollout_ModelV2AnswersOneInFive500_RolledBackToV1()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        v2.ErrorShare = 0.2;
        await using var lb = await HttpLb.StartAsync(Yaml(v1, v2));
        await using var clients = new CompletionClients(lb.EndPoint, 4);
        await clients.WaitForAnswersAsync(40, Wait);

        await lb.CtlOkAsync("rollout llm v2 --steps 10,50,100 --interval 500ms --min-requests 20 --max-error-rate 5%");
        var rollout = await lb.WaitForRolloutAsync(service: "llm", state: "rolled_back");
        Assert.Contains("error rate", rollout.GetProperty("outcome").GetString(), StringComparison.Ordinal);
        Assert.True(v2.Requests > 0);
        Assert.All(v2.Models, m => Assert.Equal("llama-3.1-70b", m));

        // Every request after the rollback is answered by v1.
        await clients.WaitForAnswersAsync(40, Wait);
        var after = clients.NowMs;
        await clients.WaitForAnswersAsync(40, Wait);
        Assert.All(clients.Answers.Where(a => a.AtMs > after + 50), a => Assert.Equal(("v1", 200), (a.Backend, a.Status)));
    }

    [Fact]
    public async Task Rollout_HealthyModelV2_CompletesAndTakesAllTraffic()
    {
        await using var v1 = FakeOpenAiBackend.Start("v1");
        await using var v2 = FakeOpenAiBackend.Start("v2");
        await using var lb = await HttpLb.StartAsync(Yaml(v1, v2));
        await using var clients = new CompletionClients(lb.EndPoint, 4);
        await clients.WaitForAnswersAsync(40, Wait);

        await lb.CtlOkAsync("rollout llm v2 --steps 10,50,100 --interval 300ms --min-requests 5");
        await lb.WaitForRolloutAsync(service: "llm", state: "completed");
        var done = clients.NowMs;
        await clients.WaitForAnswersAsync(40, Wait);
        Assert.All(clients.Answers.Where(a => a.AtMs > done + 50), a => Assert.Equal(("v2", 200), (a.Backend, a.Status)));
        Assert.All(clients.Answers, a => Assert.Equal(200, a.Status));
    }
}
