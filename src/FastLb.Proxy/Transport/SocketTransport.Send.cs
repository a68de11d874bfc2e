using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class SocketTransport
{
    private async Task SendLoopAsync()
    {
        var socket = _socket;
        var reader = _sendFrom;
        Exception? error = null;
        var sendFin = false;
        var reading = false;
        try
        {
            while (true)
            {
                reading = true;
                var result = await reader.ReadAsync().ConfigureAwait(false);
                reading = false;
                var buffer = result.Buffer;
                if (result.IsCanceled)
                {
                    reader.AdvanceTo(buffer.Start);
                    break; // Abort or Close woke us.
                }
                try
                {
                    // Send straight away (the socket is almost always writable); park on writability only when the
                    // kernel's send buffer is full. Written inline so a parked send allocates no extra state machine.
                    foreach (var segment in buffer)
                    {
                        var remaining = segment;
                        while (!remaining.IsEmpty)
                        {
                            var n = socket.Send(remaining.Span);
                            if (n >= 0)
                            {
                                remaining = remaining[n..];
                                continue;
                            }
                            if (!await socket.WaitWritableAsync().ConfigureAwait(false))
                            {
                                throw new SocketException((int)SocketError.OperationAborted);
                            }
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }
                if (result.IsCompleted)
                {
                    sendFin = true; // The source ended cleanly: pass the FIN on.
                    break;
                }
            }
        }
        catch when (reading)
        {
            // The source broke (its socket was reset or aborted): reset ours too rather than fake a clean end.
            Abort();
        }
        catch (Exception e)
        {
            // Our peer is gone mid-send. Tell the source's writer, and reset so the receive side ends as well.
            error = e is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown } && !IsAborted
                ? new ConnectionResetException("connection reset by peer", e)
                : new ConnectionAbortedException("send failed: " + e.Message, e);
            Abort();
        }
        finally
        {
            if (sendFin && !IsAborted) socket.ShutdownSend();
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
