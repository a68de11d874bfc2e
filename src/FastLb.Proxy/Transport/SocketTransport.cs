using System.IO.Pipelines;
using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

/// <summary>Pumps one connected <see cref="EpollSocket"/>: a receive loop writes into a pipe, a send loop drains another.</summary>
/// <remarks>
/// The transport does not own its pipes: the TCP relay to a TLS backend gives the client side's to the loops that
/// encrypt and decrypt. Everything else (HTTP connections, the plain TCP relay's <c>pipes</c> mode) uses
/// <see cref="SocketConnection"/>, which needs no pipes and receives and sends through the ring on io_uring.
/// End-of-stream is propagated, not swallowed:
/// <list type="bullet">
/// <item>peer FIN → the receive pipe completes cleanly; a clean end of the send pipe → shutdown(SHUT_WR) (FIN);</item>
/// <item>peer RST → the receive pipe completes with <see cref="ConnectionResetException"/>; a send pipe that
/// ends with any exception → the socket is closed with RST;</item>
/// <item><see cref="Abort"/> → RST and both loops end; <see cref="Close"/> → FIN both ways.</item>
/// </list>
/// </remarks>
internal sealed partial class SocketTransport
{
    private readonly EpollSocket _socket;
    private readonly PipeWriter _receiveInto;
    private readonly PipeReader _sendFrom;
    private Task? _running;
    private int _aborted;
    private volatile bool _closing;
    private int _disposed;
    private int _receiveEnd;
    private long _lastReceiveMs;
    private long _bytesReceived;

    public SocketTransport(EpollSocket socket, PipeWriter receiveInto, PipeReader sendFrom)
    {
        _socket = socket;
        _receiveInto = receiveInto;
        _sendFrom = sendFrom;
        _lastReceiveMs = Environment.TickCount64;
    }

    public EpollSocket Socket => _socket;

    /// <summary>Why receiving ended, or <see cref="Transport.ReceiveEnd.None"/> while it runs.</summary>
    public ReceiveEnd ReceiveEnd => (ReceiveEnd)Volatile.Read(ref _receiveEnd);

    /// <summary><see cref="Environment.TickCount64"/> of the last received bytes (or of creation).</summary>
    public long LastReceiveMs => Volatile.Read(ref _lastReceiveMs);

    /// <summary>Bytes received from the socket so far.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>Completes when both loops have ended; the socket is still open until <see cref="DisposeAsync"/>.</summary>
    public Task Completion => _running ?? Task.CompletedTask;

    /// <summary>Starts both loops; call once.</summary>
    public Task Start()
    {
        if (_running is not null) throw new InvalidOperationException("transport already started");
        _running = RunAsync();
        return _running;
    }

    private async Task RunAsync()
    {
        var receiving = ReceiveLoopAsync();
        var sending = SendLoopAsync();
        await receiving.ConfigureAwait(false);
        await sending.ConfigureAwait(false);
    }

    /// <summary>Closes with RST at once: unsent data is dropped, both loops end. Idempotent.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        _socket.Abort();
        // Wake loops parked on a pipe rather than on the socket.
        _sendFrom.CancelPendingRead();
        _receiveInto.CancelPendingFlush();
    }

    /// <summary>Closes gracefully: FIN both ways, a pending receive sees end of stream, sending stops.</summary>
    public void Close()
    {
        if (_closing || IsAborted) return;
        _closing = true;
        _socket.ShutdownBoth();
        _sendFrom.CancelPendingRead();
    }

    /// <summary>Waits for both loops (aborting them if they never started ending) and closes the socket. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var running = _running;
        if (running is not null)
        {
            if (!running.IsCompleted) Abort();
            await running.ConfigureAwait(false);
        }
        _socket.Dispose();
    }

    private static bool IsLocalClose(Exception e) =>
        e is ObjectDisposedException ||
        e is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown };
}
