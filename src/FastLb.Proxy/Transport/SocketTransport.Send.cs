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
                    if (!buffer.IsEmpty)
                    {
                        // Socket.SendAsync on a stream socket completes only when every byte is handed to the kernel.
                        // Sent inline (no helper method) so an asynchronous send allocates no extra state machine.
                        if (buffer.IsSingleSegment)
                        {
                            await socket.SendAsync(buffer.First, SocketFlags.None).ConfigureAwait(false);
                        }
                        else
                        {
                            foreach (var segment in buffer)
                            {
                                await socket.SendAsync(segment, SocketFlags.None).ConfigureAwait(false);
                            }
                        }
                        _bytesSent += buffer.Length;
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
            if (sendFin && !IsAborted) SocketTeardown.ShutdownSend(socket);
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
