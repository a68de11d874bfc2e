using System.Diagnostics;
using System.Net.Sockets;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

internal sealed partial class TcpProxyConnection
{
    private const int MaxConnectAttempts = 3;

    private BackendSnapshot? _lastTried; // the backend connected to, or the last one that failed (access and error logs)
    private int _attempts;

    /// <summary>Picks and connects, moving to the next pick on refusal or timeout; null when every try failed.</summary>
    private async Task<BackendSnapshot?> ConnectAsync(ServiceSnapshot service, ulong hash)
    {
        var sticky = service.StickyPoolForClient(hash); // sticky_split by client_ip during a split: this client's pool
        var tries = Math.Min(MaxConnectAttempts, sticky?.Backends.Length ?? CountBackends(service));
        var timeout = service.Config.ConnectTimeout;
        CancellationTokenSource? timer = null;
        try
        {
            BackendSnapshot? triedA = null, triedB = null;
            for (var attempt = 0; attempt < tries && !IsAborted; attempt++)
            {
                var backend = service.PickForAttempt(sticky, hash, attempt, triedA, triedB);
                if (backend is null) return null;
                if (attempt == 0) triedA = backend;
                else triedB = backend;
                _lastTried = backend;
                _attempts = attempt + 1;

                if (timer is null || !timer.TryReset())
                {
                    timer?.Dispose();
                    timer = new CancellationTokenSource();
                    Volatile.Write(ref _connectTimer, timer);
                }
                if (IsAborted) break;
                timer.CancelAfter(timeout);
                try
                {
                    var started = Stopwatch.GetTimestamp();
                    var socket = await EpollSocket.ConnectAsync(backend.EndPoint, _client.Loop, timer.Token).ConfigureAwait(false);
                    backend.State.Traffic.RecordConnect(Stopwatch.GetTimestamp() - started);
                    if (attempt > 0) backend.State.Traffic.Add(TrafficField.Retries, attempt);
                    Interlocked.Exchange(ref _backendSocket, socket);
                    backend.State.RecordSuccess();
                    if (IsAborted) socket.Abort(); // Abort ran before it could see the socket
                    return backend;
                }
                catch (DescriptorsExhaustedException e)
                {
                    // Local exhaustion: not the backend's failure, and the next backend would fare no better.
                    Exhaustion.Connect.Record($"{backend.Address}: {e.SocketErrorCode}");
                    break;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    if (IsAborted) break;
                    backend.State.RecordFailure(e is OperationCanceledException ? "connect timeout" : "connect failed"); // refused, unreachable or timed out
                    backend.State.RecordConnectFailure(timedOut: timer.IsCancellationRequested);
                }
            }
            return null;
        }
        finally
        {
            Volatile.Write(ref _connectTimer, null);
            timer?.Dispose();
        }
    }

    private static int CountBackends(ServiceSnapshot service)
    {
        var n = 0;
        foreach (var pool in service.Pools) n += pool.Backends.Length;
        return n;
    }
}
