using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>
/// A keep-alive client connection that has been idle long enough to give back everything but its socket: what is
/// left is this object, the socket and the wait for its next bytes. The next bytes (or its end, a close, the
/// keep-alive deadline) resume it in a new <see cref="HttpProxyConnection"/> on the socket's loop.
/// </summary>
/// <remarks>
/// <para>
/// An idle <see cref="HttpProxyConnection"/> is about 2 KB of objects (the connection with its per-request state, its
/// suspended loop, the socket's reader and writer) on top of the socket; a parked one keeps about a tenth of that.
/// Parking happens only after <see cref="HttpProxyConnection.IdleParkAfter"/> without a request, so a busy keep-alive
/// connection never parks and keeps its 0 bytes allocated per request; a connection that parked allocates its
/// objects again when it wakes, once per idle period.
/// </para>
/// <para>
/// Every way out runs <see cref="Resume"/> on the socket's loop, exactly once: readiness (the loop calls the wait's
/// callback inline), a close of the socket (the wait completes through the thread pool, which hops to the loop), and
/// the keep-alive deadline or a listener stop (posted to the loop, which wakes the wait). The resumed connection does
/// what an unparked one would: serves the bytes that arrived, or closes at its deadline, on a stop, or on the
/// peer's FIN. Requests that arrive for this object while the other takes over are forwarded to it.
/// </para>
/// </remarks>
internal sealed class ParkedHttpConnection : IProxyConnection
{
    private const int StopFlag = 1;
    private const int CloseAfterResponseFlag = 2;
    private const int AbortFlag = 4;
    private const int WakePostedFlag = 8;
    private const int ResumedFlag = 16;

    // Only a request in flight links a connection to its backend (BackendState.Acquire), and a parked connection has
    // none: every parked connection shares this one link, which stays unlinked (the drain logic only reads it).
    private static DrainLink s_unlinked;

    private static readonly Action<object?> OnReadable = static state => ((ParkedHttpConnection)state!).Resume();

    private int _flags;
    private HttpProxyConnection? _successor;

    public ParkedHttpConnection(HttpProxy proxy, EpollSocket socket, ListenerConfig listener, ProxyListener owner,
        IPEndPoint? peer, IPEndPoint? proxiedDestination, long deadlineMs)
    {
        Proxy = proxy;
        Socket = socket;
        Listener = listener;
        Owner = owner;
        Peer = peer;
        ProxiedDestination = proxiedDestination;
        DeadlineMs = deadlineMs;
    }

    public HttpProxy Proxy { get; }

    public EpollSocket Socket { get; }

    public ListenerConfig Listener { get; }

    public ProxyListener Owner { get; }

    /// <summary>The client a trusted PROXY header named; null: the socket's peer.</summary>
    public IPEndPoint? Peer { get; }

    public IPEndPoint? ProxiedDestination { get; }

    /// <summary>The keep-alive deadline (<see cref="Environment.TickCount64"/>) the resumed connection keeps.</summary>
    public long DeadlineMs { get; }

    public ref DrainLink DrainLink => ref s_unlinked;

    /// <summary>
    /// On the socket's loop, right after the registration moved here: waits for the next bytes. Resumes at once when
    /// they (or the end) are already there.
    /// </summary>
    public void Arm()
    {
        if (Socket.TryWaitReadable(OnReadable, this)) Resume();
    }

    /// <summary>The listener stops: the resumed connection closes (at once when no request arrived).</summary>
    public void RequestClose()
    {
        Interlocked.Or(ref _flags, StopFlag);
        if (Volatile.Read(ref _successor) is { } successor) successor.RequestClose();
        else PostWake();
    }

    /// <summary>A process upgrade: the resumed connection answers its next request with Connection: close.</summary>
    public void RequestCloseAfterResponse()
    {
        Interlocked.Or(ref _flags, CloseAfterResponseFlag);
        Volatile.Read(ref _successor)?.RequestCloseAfterResponse();
    }

    public void Abort()
    {
        Interlocked.Or(ref _flags, AbortFlag);
        if (Volatile.Read(ref _successor) is { } successor) successor.Abort();
        else Socket.Abort(); // the wait completes (closed), which resumes into a connection that finds it closed
    }

    public void OnHeartbeat(long nowMs)
    {
        if (nowMs >= DeadlineMs && !Resumed) PostWake();
    }

    /// <summary>On the loop: wakes the wait (a stop or the deadline), or resumes after a close completed it elsewhere.</summary>
    public void Execute()
    {
        if (Resumed) return;
        Socket.WakeReader(); // runs the armed wait's callback here, inline; a wait already completed is left alone
        Resume();
    }

    private bool Resumed => (Volatile.Read(ref _flags) & ResumedFlag) != 0;

    private void PostWake()
    {
        if ((Interlocked.Or(ref _flags, WakePostedFlag) & WakePostedFlag) != 0) return;
        Socket.Loop.Post(this);
    }

    private void Resume()
    {
        if (!Socket.Loop.IsCurrent)
        {
            Socket.Loop.Post(this); // a close completed the wait on another thread: the connection lives on its loop
            return;
        }
        if ((Interlocked.Or(ref _flags, ResumedFlag) & ResumedFlag) != 0) return;
        var active = new HttpProxyConnection(this);
        Owner.Resume(this, active);
        Interlocked.Exchange(ref _successor, active);
        // What was asked of this object before the successor was published is handed over here; what comes after,
        // the methods above forward. Asking twice is harmless.
        var flags = Volatile.Read(ref _flags);
        if ((flags & CloseAfterResponseFlag) != 0) active.RequestCloseAfterResponse();
        if ((flags & StopFlag) != 0) active.RequestClose();
        if ((flags & AbortFlag) != 0) active.Abort();
        active.Execute();
    }
}
