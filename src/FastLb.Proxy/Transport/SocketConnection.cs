using System.Buffers;

namespace FastLb.Proxy.Transport;

/// <summary>An <see cref="EpollSocket"/> with a pull reader and a direct writer: the HTTP proxy's client and upstream connections, and the TCP relay's sockets in <c>pipes</c> mode.</summary>
/// <remarks>
/// Unlike <see cref="SocketTransport"/> (two pipes and two pump loops, kept for the TLS relay's client side), nothing runs while
/// the connection is idle: no loop is parked, no block is held, so an idle keep-alive connection costs only these
/// few objects and the kernel socket.
/// </remarks>
internal sealed class SocketConnection
{
    public SocketConnection(EpollSocket socket, MemoryPool<byte> pool)
    {
        Socket = socket;
        Input = new SocketReader(socket, pool);
        Output = new SocketWriter(socket, pool);
    }

    public EpollSocket Socket { get; }

    /// <summary>What the peer sent.</summary>
    public SocketReader Input { get; }

    /// <summary>What to send to the peer.</summary>
    public SocketWriter Output { get; }

    public ReceiveEnd ReceiveEnd => Input.ReceiveEnd;

    public long LastReceiveMs => Input.LastReceiveMs;

    /// <summary>True once the peer closed its side or the connection failed: an idle connection that did is not reusable.</summary>
    public bool PeerClosed => Socket.PeerClosed;

    /// <summary>Closes with RST: unsent data is dropped, pending reads and flushes fail. Idempotent, any thread.</summary>
    public void Abort() => Socket.Abort();

    /// <summary>Closes gracefully: FIN both ways; a pending read sees end of stream.</summary>
    public void Close() => Socket.ShutdownBoth();

    /// <summary>
    /// After our FIN: waits up to <paramref name="timeout"/> for the peer's FIN (discarding anything it still sends, up to
    /// <paramref name="maxBytes"/>), so closing does not reset a response the peer is still reading. Call after
    /// <see cref="Input"/> completed.
    /// </summary>
    public async Task LingerAsync(TimeSpan timeout, long maxBytes = long.MaxValue)
    {
        long discarded = 0;
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var remaining = deadline - Environment.TickCount64;
                if (remaining <= 0) return;
                var wait = Socket.WaitReadableAsync();
                if (!wait.IsCompleted)
                {
                    if (!await wait.AsTask().WaitAsync(TimeSpan.FromMilliseconds(remaining)).ConfigureAwait(false)) return;
                }
                else if (!wait.Result)
                {
                    return;
                }
                var n = Socket.Receive(scratch);
                if (n == 0) return; // the peer closed its side
                discarded += n;
                if (discarded >= maxBytes) return;
            }
        }
        catch (Exception)
        {
            // Timed out, reset, or closed locally: either way there is nothing left to wait for.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Closes the socket (FIN, or RST when the peer's bytes are left unread); pending operations fail.</summary>
    public void Dispose()
    {
        Input.Complete();
        Output.Complete();
        Socket.Dispose();
    }
}
