using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

/// <summary>Close helpers that never throw: graceful (FIN) and abortive (RST).</summary>
internal static class SocketTeardown
{
    private static readonly LingerOption ResetOnClose = new(true, 0);

    /// <summary>Closes with RST: linger 0 makes close() discard unsent data and reset the peer.</summary>
    public static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = ResetOnClose;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed or never connected: nothing to reset.
        }
        socket.Dispose();
    }

    /// <summary>Sends FIN (stops our direction); the other direction keeps flowing.</summary>
    public static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer is gone or we closed first; the FIN has nothing left to say.
        }
    }

    /// <summary>Sends FIN and wakes a pending receive with end of stream.</summary>
    public static void ShutdownBoth(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }
}
