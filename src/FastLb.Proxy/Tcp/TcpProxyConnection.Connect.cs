using System.Net.Sockets;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Tcp;

internal sealed partial class TcpProxyConnection
{
    private const int MaxConnectAttempts = 3;

    /// <summary>Picks and connects, moving to the next pick on refusal or timeout; null when every try failed.</summary>
    private async Task<BackendSnapshot?> ConnectAsync(ServiceSnapshot service, PoolSnapshot? pinned, ulong hash)
    {
        var tries = Math.Min(MaxConnectAttempts, CountBackends(service, pinned));
        var timeout = service.Config.ConnectTimeout;
        CancellationTokenSource? timer = null;
        try
        {
            BackendSnapshot? triedA = null, triedB = null;
            for (var attempt = 0; attempt < tries && !IsAborted; attempt++)
            {
                var backend = service.PickForAttempt(pinned, hash, attempt, triedA, triedB);
                if (backend is null) return null;
                if (attempt == 0) triedA = backend;
                else triedB = backend;

                var socket = new Socket(backend.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                Interlocked.Exchange(ref _backendSocket, socket);
                if (IsAborted) break;
                if (timer is null || !timer.TryReset())
                {
                    timer?.Dispose();
                    timer = new CancellationTokenSource();
                }
                timer.CancelAfter(timeout);
                try
                {
                    await socket.ConnectAsync(backend.EndPoint, timer.Token).ConfigureAwait(false);
                    return backend;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    Interlocked.Exchange(ref _backendSocket, null);
                    socket.Dispose();
                    if (IsAborted) break;
                    backend.State.RecordFailure(); // refused, unreachable or timed out
                }
            }
            return null;
        }
        finally
        {
            timer?.Dispose();
        }
    }

    private static int CountBackends(ServiceSnapshot service, PoolSnapshot? pinned)
    {
        if (pinned is not null) return pinned.Backends.Length;
        var n = 0;
        foreach (var pool in service.Pools) n += pool.Backends.Length;
        return n;
    }
}
