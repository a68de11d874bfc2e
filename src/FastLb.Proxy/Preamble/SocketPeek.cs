using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Preamble;

/// <summary>Looks at a connection's first bytes without consuming them (MSG_PEEK), waiting on readiness for more.</summary>
internal static class SocketPeek
{
    /// <summary>
    /// Waits until more than <paramref name="have"/> bytes are queued, or <paramref name="buffer"/> is full, and copies
    /// them into it; returns the count, or -1 when no more will come (end of stream, reset, or the socket was closed,
    /// which is how a deadline ends the wait).
    /// </summary>
    public static async ValueTask<int> MoreAsync(EpollSocket socket, byte[] buffer, int have)
    {
        try
        {
            while (true)
            {
                var n = socket.Peek(buffer);
                if (n > have || (n == buffer.Length && n > 0)) return n;
                if (n == 0) return -1; // end of stream
                // Nothing new: after the peer's FIN nothing new ever comes (and readiness stays raised, so waiting would spin).
                if (n == have && socket.PeerClosed) return -1;
                if (!await socket.WaitReadableAsync().ConfigureAwait(false)) return -1;
            }
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Consumes exactly <paramref name="count"/> bytes already seen by a peek and hands the socket on; false when they
    /// are no longer there.
    /// </summary>
    public static bool Consume(EpollSocket socket, byte[] buffer, int count)
    {
        try
        {
            if (count != 0 && socket.Receive(buffer.AsSpan(0, count)) != count) return false;
            HandOn(socket);
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Marks the socket readable for whoever reads it next: the peeks took the readiness edge of bytes still queued,
    /// and with edge-triggered events no new edge comes for them (at worst the next receive finds EAGAIN).
    /// </summary>
    public static void HandOn(EpollSocket socket) => socket.WakeReader();

    /// <summary>Closes <paramref name="socket"/> (RST) if the returned registration is not disposed within <paramref name="timeout"/>.</summary>
    public static Deadline Arm(EpollSocket socket, TimeSpan timeout) => new(socket, timeout);

    /// <summary>A preamble's deadline: aborting the socket ends any peek wait; <see cref="Expired"/> tells it happened.</summary>
    internal sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenRegistration _registration;

        public Deadline(EpollSocket socket, TimeSpan timeout)
        {
            _timer = new CancellationTokenSource(timeout);
            _registration = _timer.Token.UnsafeRegister(static s => ((EpollSocket)s!).Abort(), socket);
        }

        private bool _disposed;

        /// <summary>True once the deadline fired; final after <see cref="Dispose"/>.</summary>
        public bool Expired { get; private set; }

        /// <summary>Disarms the deadline; idempotent.</summary>
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _registration.Dispose(); // waits for a callback that is running, so Expired is final afterwards
            Expired = _timer.IsCancellationRequested;
            _timer.Dispose();
        }
    }
}
