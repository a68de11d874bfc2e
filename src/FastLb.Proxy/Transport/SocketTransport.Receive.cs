using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class SocketTransport
{
    private async Task ReceiveLoopAsync()
    {
        var socket = _socket;
        var writer = _receiveInto;
        var end = ReceiveEnd.Local;
        Exception? error = null;
        var waitForData = true;
        try
        {
            while (true)
            {
                // Park on readiness (no syscall) before taking a buffer, so an idle connection holds no block.
                if (waitForData && !await socket.WaitReadableAsync().ConfigureAwait(false))
                {
                    break; // closed locally (Abort, Dispose)
                }
                var memory = writer.GetMemory();
                var n = socket.Receive(memory.Span);
                if (n < 0)
                {
                    waitForData = true; // a stale edge: nothing queued after all
                    continue;
                }
                if (n == 0)
                {
                    end = ReceiveEnd.Fin;
                    break;
                }
                writer.Advance(n);
                Volatile.Write(ref _bytesReceived, _bytesReceived + n); // this loop is the only writer
                Volatile.Write(ref _lastReceiveMs, Environment.TickCount64);
                // A short read drained the socket (a later arrival is a new edge); a full buffer suggests more is
                // queued: read again at once.
                waitForData = n < memory.Length;

                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCanceled)
                {
                    break; // Abort woke us; the socket is gone.
                }
                if (flush.IsCompleted)
                {
                    break; // Nobody reads any more; whoever completed the reader ends the connection.
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            end = ReceiveEnd.Reset;
            error = new ConnectionResetException("connection reset by peer", e);
        }
        catch (Exception e) when (IsLocalClose(e))
        {
            end = ReceiveEnd.Local;
        }
        catch (Exception e)
        {
            // Other socket errors (timeouts, unreachable), or the reader failed with an error of its own.
            end = ReceiveEnd.Error;
            error = new ConnectionAbortedException("receive failed: " + e.Message, e);
        }
        finally
        {
            if (error is null && IsAborted) error = new ConnectionAbortedException("connection aborted");
            Volatile.Write(ref _receiveEnd, (int)end);
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
