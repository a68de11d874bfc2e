using System.Net;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Host;

/// <summary>
/// An HTTP backend that answers 200 to each request (then closes), but while <see cref="Hold"/> is on it keeps every
/// request waiting: a test holds that many connections open through the proxy, on both sides.
/// </summary>
internal sealed class HeldHttpBackend : IAsyncDisposable
{
    private readonly RawHttpBackend _server;
    private TaskCompletionSource _released = NewGate(released: true);
    private int _waiting;

    public HeldHttpBackend()
    {
        _server = RawHttpBackend.Start("held", RespondAsync);
    }

    public IPEndPoint EndPoint => _server.EndPoint;

    /// <summary>Requests the backend read and holds unanswered now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>From now on requests wait until <see cref="Release"/>.</summary>
    public void Hold() => Volatile.Write(ref _released, NewGate(released: false));

    /// <summary>Answers every held request, and later ones at once.</summary>
    public void Release() => Volatile.Read(ref _released).TrySetResult();

    private static TaskCompletionSource NewGate(bool released)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (released) gate.SetResult();
        return gate;
    }

    private async Task<bool> RespondAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await Volatile.Read(ref _released).Task.WaitAsync(ct);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
        await connection.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", ct);
        return false;
    }

    public ValueTask DisposeAsync()
    {
        Release();
        return _server.DisposeAsync();
    }
}
