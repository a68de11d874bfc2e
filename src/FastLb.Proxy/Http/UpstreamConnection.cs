using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>One connection to a backend: its socket with a reader and a writer on it (no pipes); pooled between requests when reusable.</summary>
internal sealed class UpstreamConnection
{
    private int _closed;

    public UpstreamConnection(BackendState backend, EpollSocket socket, TransportOptions options)
    {
        Backend = backend;
        Connection = new SocketConnection(socket, options.Pool);
        Input = Connection.Input;
        Output = Connection.Output;
        HostBytes = Encoding.ASCII.GetBytes(backend.Address);
        backend.CountUpstream(1);
    }

    public BackendState Backend { get; }

    /// <summary>The event loop this connection's socket belongs to (its pool stack).</summary>
    public EpollLoop Loop => Connection.Socket.Loop;
    public SocketConnection Connection { get; }

    /// <summary>What the backend sent.</summary>
    public PipeReader Input { get; }

    /// <summary>What to send to the backend.</summary>
    public PipeWriter Output { get; }

    /// <summary>The backend address as bytes, the Host sent when the service rewrites Host.</summary>
    public byte[] HostBytes { get; }

    /// <summary>True once it carried a request; a reused connection may have been closed by the backend meanwhile.</summary>
    public bool Reused { get; set; }

    /// <summary><see cref="Environment.TickCount64"/> when it went idle into the pool.</summary>
    public long IdleSinceMs { get; set; }

    /// <summary>How long it may sit idle in the pool (the service's upstream_idle_timeout).</summary>
    public long IdleTimeoutMs { get; set; }

    /// <summary>Connects until <paramref name="deadline"/> fires (timeout or abort); null when refused, unreachable, timed out or canceled.</summary>
    /// <exception cref="DescriptorsExhaustedException">This process is out of descriptors (not the backend's fault).</exception>
    public static async ValueTask<UpstreamConnection?> ConnectAsync(BackendSnapshot backend, EpollLoop loop, TransportOptions options, CancellationToken deadline)
    {
        try
        {
            var socket = await EpollSocket.ConnectAsync(backend.EndPoint, loop, deadline).ConfigureAwait(false);
            return new UpstreamConnection(backend.State, socket, options);
        }
        catch (Exception e) when (e is (SocketException and not DescriptorsExhaustedException) or OperationCanceledException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>
    /// True when an idle connection can carry a request: the backend has not closed it and sent nothing unasked.
    /// Call only while owning the connection (popped from the pool, or about to be returned).
    /// </summary>
    public bool IsIdleUsable()
    {
        if (Volatile.Read(ref _closed) != 0 || Connection.ReceiveEnd != ReceiveEnd.None) return false;
        try
        {
            if (!Input.TryRead(out var result)) return true;
            var usable = result.Buffer.IsEmpty && !result.IsCompleted && !result.IsCanceled;
            Input.AdvanceTo(result.Buffer.Start);
            return usable;
        }
        catch (Exception)
        {
            return false; // The receive side failed (reset).
        }
    }

    /// <summary>Cuts the connection with RST (drain abort, errors); idempotent.</summary>
    public void Abort() => Connection.Abort();

    /// <summary>Closes and releases the connection in the background: FIN when <paramref name="graceful"/>, else RST. Idempotent.</summary>
    public void Discard(bool graceful = true)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        Backend.CountUpstream(-1);
        _ = DisposeCoreAsync(graceful);
    }

    private async Task DisposeCoreAsync(bool graceful)
    {
        try
        {
            if (graceful) Connection.Close();
            else Connection.Abort();
            await Output.CompleteAsync().ConfigureAwait(false);
            await Input.CompleteAsync().ConfigureAwait(false);
            Connection.Dispose();
        }
        catch (Exception e)
        {
            Log.Debug($"upstream {Backend.Address}: close failed: {e.Message}");
        }
    }
}
