using System.Buffers;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

/// <remarks>
/// <c>tcp_relay: pipes</c>: bytes cross through user space, each socket read by its <see cref="SocketReader"/> and
/// written by its <see cref="SocketWriter"/>, the same reader and writer the HTTP proxy uses, so on an io_uring loop
/// a relayed request costs no syscall of its own: receives complete through the loop's multishot receive and sends
/// go out with its next submission. Two copy loops, one per direction, run on the connection's loop; while the
/// relay idles nothing is parked but the two reads and no block is held. The client's FIN becomes a FIN to the
/// backend once what came before it went out, while the other direction runs on; an RST or a failure on either side
/// resets the other.
/// </remarks>
internal sealed partial class TcpProxyConnection
{
    private SocketConnection? _relayClient;  // pipes: the client socket's reader and writer
    private SocketConnection? _relayBackend; // pipes: the backend socket's

    private async Task PipesRelayAsync(EpollSocket backendSocket)
    {
        var client = new SocketConnection(_client, _options.Pool);
        var backend = new SocketConnection(backendSocket, _options.Pool);
        // Publish, then re-check: an Abort racing with setup either sees the connections or we see its flag.
        Interlocked.Exchange(ref _relayClient, client);
        Interlocked.Exchange(ref _relayBackend, backend);
        if (IsAborted)
        {
            client.Abort();
            backend.Abort();
        }
        var up = CopyAsync(client, backend);
        var down = CopyAsync(backend, client);
        await up.ConfigureAwait(false);
        await down.ConfigureAwait(false);
    }

    /// <summary>
    /// One direction: what <paramref name="from"/> sends goes to <paramref name="to"/>. Its FIN becomes a FIN once the
    /// rest went out; a failure on either side completes the writer with it, which resets that socket.
    /// </summary>
    private static async Task CopyAsync(SocketConnection from, SocketConnection to)
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await from.Input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer) to.Output.Write(segment.Span);
                from.Input.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) break; // the peer's FIN (a reset throws)
                var flush = await to.Output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) break; // the other side failed: its writer resets it on completion
            }
        }
        catch (Exception e)
        {
            error = e; // a reset, a failed receive, or a local abort
        }
        finally
        {
            from.Input.Complete();
            await to.Output.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
