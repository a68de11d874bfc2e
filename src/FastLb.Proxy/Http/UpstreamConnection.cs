using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>One connection to a backend: its socket with a reader and a writer on it (no pipes); pooled between requests when reusable.</summary>
/// <remarks>
/// With a service's tls, <see cref="Input"/> and <see cref="Output"/> read and write through an SslStream over the
/// socket's reader and writer (see <see cref="StartTlsAsync"/>); the byte counts and closing stay on the socket.
/// </remarks>
internal sealed class UpstreamConnection
{
    /// <summary>How much the TLS pipes read or buffer at once: one TLS record's plaintext.</summary>
    private const int TlsPipeBufferSize = 16 * 1024;

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
    public PipeReader Input { get; private set; }

    /// <summary>What to send to the backend.</summary>
    public PipeWriter Output { get; private set; }

    /// <summary>The TLS settings the connection was opened with; null for a plain connection. Only a service with the same settings reuses it.</summary>
    public UpstreamTls? Tls { get; private set; }

    private SslStream? _ssl;
    private bool _tlsInterrupted; // a read or write under SslStream was canceled: its state is unknown, never reuse it

    /// <summary>send_proxy: the PROXY header went out ahead of the TLS handshake, so the first request must not send it again.</summary>
    public bool ProxyHeaderSent { get; set; }

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
    /// Runs the TLS handshake of <paramref name="tls"/> until <paramref name="deadline"/>, then points <see cref="Input"/>
    /// and <see cref="Output"/> at the decrypted stream. On failure the caller discards the connection.
    /// </summary>
    public async Task<UpstreamTlsOutcome> StartTlsAsync(UpstreamTls tls, CancellationToken deadline)
    {
        var outcome = await tls.HandshakeAsync(Connection, Backend, deadline).ConfigureAwait(false);
        if (outcome.Stream is not { } ssl) return outcome;
        _ssl = ssl;
        Tls = tls;
        Input = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: TlsPipeBufferSize, leaveOpen: true));
        Output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: TlsPipeBufferSize, leaveOpen: true));
        return outcome;
    }

    /// <summary>
    /// Cancels a pending read of <see cref="Input"/> (timeouts). Under TLS the wait is parked in the socket's own reader
    /// below SslStream, which does not pass cancellation down, so that one is canceled too: the connection is not
    /// reused after this.
    /// </summary>
    public void CancelPendingRead()
    {
        Input.CancelPendingRead();
        if (_ssl is null) return;
        _tlsInterrupted = true;
        Connection.Input.CancelPendingRead();
    }

    /// <summary>Cancels a pending flush of <see cref="Output"/>, below SslStream too (see <see cref="CancelPendingRead"/>).</summary>
    public void CancelPendingFlush()
    {
        Output.CancelPendingFlush();
        if (_ssl is null) return;
        _tlsInterrupted = true;
        Connection.Output.CancelPendingFlush();
    }

    /// <summary>
    /// True when an idle connection can carry a request: the backend has not closed it and sent nothing unasked.
    /// Call only while owning the connection (popped from the pool, or about to be returned).
    /// </summary>
    public bool IsIdleUsable()
    {
        if (Volatile.Read(ref _closed) != 0 || Connection.ReceiveEnd != ReceiveEnd.None || _tlsInterrupted) return false;
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
            if (_ssl is { } ssl)
            {
                // TLS: the pipes above wrote through SslStream (left open); the socket's own pipes end here as on a plain connection.
                await ssl.DisposeAsync().ConfigureAwait(false);
                await Connection.Output.CompleteAsync().ConfigureAwait(false);
                await Connection.Input.CompleteAsync().ConfigureAwait(false);
            }
            Connection.Dispose();
        }
        catch (Exception e)
        {
            Log.Debug($"upstream {Backend.Address}: close failed: {e.Message}");
        }
    }
}
