using System.Net;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>A backend whose failure share and delay the test sets while it runs: every n-th request answers 500, each after a delay.</summary>
internal sealed class CanaryBackend : IAsyncDisposable
{
    private int _failEvery;
    private int _delayMs;
    private long _served;

    private CanaryBackend(string name)
    {
        Backend = RawHttpBackend.Start(name, RespondAsync);
    }

    public static CanaryBackend Start(string name, int failEvery = 0, int delayMs = 0) =>
        new(name) { FailEvery = failEvery, DelayMs = delayMs };

    public RawHttpBackend Backend { get; }
    public string Name => Backend.Name;
    public IPEndPoint EndPoint => Backend.EndPoint;

    /// <summary>Every n-th request answers 500 (1 = all, 0 = none).</summary>
    public int FailEvery
    {
        get => Volatile.Read(ref _failEvery);
        set => Volatile.Write(ref _failEvery, value);
    }

    /// <summary>Milliseconds before each response.</summary>
    public int DelayMs
    {
        get => Volatile.Read(ref _delayMs);
        set => Volatile.Write(ref _delayMs, value);
    }

    public long Served => Interlocked.Read(ref _served);

    private async Task<bool> RespondAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        var n = Interlocked.Increment(ref _served);
        if (DelayMs > 0) await Task.Delay(DelayMs, ct).ConfigureAwait(false);
        var failEvery = FailEvery;
        if (failEvery > 0 && n % failEvery == 0)
        {
            await connection.SendAsync($"HTTP/1.1 500 Internal Server Error\r\nx-backend: {Name}\r\nContent-Length: 5\r\n\r\nerror", ct).ConfigureAwait(false);
            return true;
        }
        await connection.SendAsync(RawHttpBackend.Ok(Name), ct).ConfigureAwait(false);
        return true;
    }

    public ValueTask DisposeAsync() => Backend.DisposeAsync();
}
