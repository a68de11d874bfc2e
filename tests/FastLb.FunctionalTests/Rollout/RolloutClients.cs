using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>
/// Clients that keep requesting through FastLb during a rollout and record every answer (which backend, which
/// status, when) and every failure to get one: keep-alive clients and clients that open a connection per request.
/// </summary>
internal sealed class RolloutClients : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _disposed;

    public RolloutClients(IPEndPoint endPoint, int keepAlive, int newConnection = 0)
    {
        for (var i = 0; i < keepAlive; i++) _clients.Add(Task.Run(() => RunAsync(endPoint, reuse: true)));
        for (var i = 0; i < newConnection; i++) _clients.Add(Task.Run(() => RunAsync(endPoint, reuse: false)));
    }

    /// <summary>Every answer: milliseconds since the clients started, the backend that answered (x-backend), the status.</summary>
    public ConcurrentQueue<(long AtMs, string? Backend, int Status)> Answers { get; } = new();

    /// <summary>Requests that got no HTTP answer (connect failed, connection closed or reset, timeout).</summary>
    public ConcurrentQueue<string> Failures { get; } = new();

    public long NowMs => _clock.ElapsedMilliseconds;

    public async Task WaitForAnswersAsync(int more, TimeSpan timeout)
    {
        var target = Answers.Count + more;
        var deadline = DateTime.UtcNow + timeout;
        while (Answers.Count < target)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"clients got {Answers.Count}/{target} answers; failures: {string.Join(" | ", Failures.Take(3))}");
            await Task.Delay(20);
        }
    }

    private async Task RunAsync(IPEndPoint endPoint, bool reuse)
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpClientConnection? client = null;
            try
            {
                client = await HttpClientConnection.ConnectAsync(endPoint);
                do
                {
                    var response = await client.GetAsync("/", extraHeaders: reuse ? "" : "Connection: close\r\n");
                    Answers.Enqueue((_clock.ElapsedMilliseconds, response.Backend, response.Status));
                    if (response.Head["connection"] is "close") break;
                    await Task.Delay(2);
                }
                while (reuse && !_stop.IsCancellationRequested);
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                Failures.Enqueue($"{(reuse ? "keep-alive" : "new-connection")}: {e.GetType().Name}: {e.Message}");
            }
            catch (Exception)
            {
                // stopping: a request cut by the test's own stop is not a failure
            }
            finally
            {
                if (client is not null) await client.DisposeAsync();
            }
        }
    }

    /// <summary>Stops the clients and waits for them; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        await Task.WhenAll(_clients).WaitAsync(TimeSpan.FromSeconds(20));
        _stop.Dispose();
    }
}
