using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>
    /// How long a keep-alive connection waits for its next request before it parks (<see cref="ParkedHttpConnection"/>).
    /// Long enough that a client sending request after request never parks (so requests stay allocation-free), short
    /// enough that thousands of idle clients cost their socket and little else.
    /// </summary>
    internal static readonly TimeSpan IdleParkAfter = TimeSpan.FromSeconds(1);

    private ParkedHttpConnection? _parkedAs; // set once this connection parked: what is asked of it goes there
    private long _resumeDeadlineMs;          // a resumed connection: the keep-alive deadline its parked form kept
    private bool _peerFromHeader;            // _peer is the client a PROXY header named, not the socket's peer

    /// <summary>Resumes a parked connection: the same client, its keep-alive deadline, no PROXY header to read again.</summary>
    public HttpProxyConnection(ParkedHttpConnection parked)
        : this(parked.Proxy, parked.Socket, parked.Listener, parked.Owner)
    {
        if (parked.Peer is { } peer)
        {
            SetPeer(peer);
            _peerFromHeader = true;
        }
        _proxiedDestination = parked.ProxiedDestination;
        _resumeDeadlineMs = parked.DeadlineMs;
    }

    private bool Resumed => _resumeDeadlineMs != 0;

    /// <summary>Whether this connection may park when idle: plain HTTP with nothing held beyond the client socket.</summary>
    private bool MayPark => _tls is null && _ssl is null && Volatile.Read(ref _ownUpstream) is null;

    /// <summary>
    /// On the loop, after <see cref="IdleParkAfter"/> without a request: hands the connection to a
    /// <see cref="ParkedHttpConnection"/> and lets this one go. False (nothing changed) when it cannot park now: bytes
    /// or the end arrived, a response is still being sent, or the connection is closing.
    /// </summary>
    private bool TryPark(SocketConnection client, long deadlineMs)
    {
        if (_stopping || _closeAfterResponse || IsAborted || !MayPark) return false;
        var reader = client.Input;
        if (reader.HasBuffered || !client.Output.IsIdle) return false;
        // Take what raced the timeout. On epoll this also spends a readiness left by the canceled read (its receive
        // finds nothing), so the parked wait is armed for the next real edge rather than woken at once.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (!reader.TryRead(out var result)) break;
            reader.AdvanceTo(result.Buffer.Start);
            if (!result.IsCanceled || !result.Buffer.IsEmpty || result.IsCompleted) return false;
        }
        var socket = client.Socket;
        if (socket.ReceivesThroughRing) socket.ConsumeReadReadiness(); // the ring's own state says whether bytes came
        if (socket.MaybeReadable || socket.IsClosed) return false;

        Unwatch();
        var parked = new ParkedHttpConnection(_proxy, _socket, _listener, _owner, _peerFromHeader ? _peer : null, _proxiedDestination, deadlineMs);
        _owner.Park(this, parked);
        Interlocked.Exchange(ref _parkedAs, parked);
        // Asked of this connection before the parked one was published: handed over here (see RequestClose, Abort).
        if (_closeAfterResponse) parked.RequestCloseAfterResponse();
        if (_stopping) parked.RequestClose();
        if (IsAborted) parked.Abort();
        Dispose();
        parked.Arm();
        return true;
    }
}
