using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>A non-blocking TCP socket driven by an <see cref="EpollLoop"/>: the data plane's only socket type.</summary>
/// <remarks>
/// <para>
/// Each direction keeps a readiness state fed by edge-triggered events: NotReady → (event) → Ready → (a read or
/// write syscall begins) → NotReady. Waiting for readiness costs no syscall, and a short read is taken as "drained",
/// so the common request costs one recv and one send per socket, never a speculative recv that answers EAGAIN.
/// An edge that arrives while a syscall runs leaves the state Ready, so at worst the next attempt finds EAGAIN;
/// an edge is never lost.
/// </para>
/// <para>
/// One reader and one writer at a time (the transport's two loops); <see cref="Abort"/>, the shutdowns and
/// <see cref="Dispose"/> may come from any thread. The fd lives in a <see cref="SafeHandle"/> whose reference count
/// defers the close() until a syscall in flight returns, so a reused fd number is never touched.
/// </para>
/// </remarks>
internal sealed partial class EpollSocket : IDisposable
{
    private const int NotReady = 0;
    private const int Ready = 1;
    private const int Waiting = 2;
    private const int Closed = 3;

    private readonly SafeHandle _handle;
    private readonly int _fd;
    private readonly ReadinessWaiter _readWaiter = new();
    private ReadinessWaiter? _writeWaiter; // made by the first write wait: most connections never wait to send
    private int _readState;
    private int _writeState;
    private volatile bool _peerClosed;
    private int _closed;
    private int _registered;
    private volatile bool _finAtClose; // LeaveFinToClose: a clean ShutdownSend is left to the close that follows
    private bool _countedOnLoop; // an accepted client: counted in its loop's ClientConnections until torn down
    private readonly PeerAddress _remote;

    private EpollSocket(SafeHandle handle, int fd, EpollLoop loop, bool readable, bool writable, PeerAddress remote)
    {
        _handle = handle;
        _fd = fd;
        Loop = loop;
        _readState = readable ? Ready : NotReady;
        _writeState = writable ? Ready : NotReady;
        _remote = remote;
        // A ring loop closes its sockets with its next submission (no close() syscall); a listener's .NET handle is not ours to close that way.
        if (loop.UsesRing && handle is SocketFdHandle fdHandle) fdHandle.CloseThroughRing(loop);
    }

    /// <summary>The loop that delivers this socket's readiness.</summary>
    public EpollLoop Loop { get; }

    /// <summary>
    /// The peer: the client of an accepted socket, the backend of a connected one. A new object on each call (the
    /// socket keeps the address inline): callers ask once and keep it for as long as they need it.
    /// </summary>
    public IPEndPoint? RemoteEndPoint => _remote.ToEndPoint();

    /// <summary>The raw descriptor, for a ring loop arming this socket's poll (it checks the token is live first).</summary>
    internal int Fd => _fd;

    /// <summary>The registration token the loop matches events against.</summary>
    internal ulong Token { get; set; }

    /// <summary>The fd, reference-counted: splice and other raw calls take a reference around their syscall.</summary>
    public SafeHandle Handle => _handle;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// True once the socket is in its loop's epoll set. Until then (an accepted socket served by the accepting loop
    /// that has not had to wait yet) <see cref="PeerClosed"/> and <see cref="MaybeReadable"/> reflect only what its
    /// own receives saw: nobody watches it, which is what saves the epoll_ctl.
    /// </summary>
    internal bool IsWatched => Volatile.Read(ref _registered) != 0;

    /// <summary>Wraps <paramref name="fd"/> (non-blocking) and registers it now; throws and closes the fd on failure.</summary>
    private static EpollSocket Register(int fd, SafeHandle handle, EpollLoop loop, bool readable, bool writable, PeerAddress remote)
    {
        var socket = new EpollSocket(handle, fd, loop, readable, writable, remote);
        socket._registered = 1;
        socket._pollArmed = 1;
        var rc = loop.Register(socket, fd, armPoll: true);
        if (rc < 0)
        {
            handle.Dispose();
            if (rc is -SocketSyscalls.ENOMEM or -SocketSyscalls.ENOSPC)
            {
                Exhaustion.Epoll.Record($"epoll_ctl errno {-rc}");
                throw new DescriptorsExhaustedException(SocketError.NoBufferSpaceAvailable);
            }
            throw SocketSyscalls.ToException(-rc);
        }
        return socket;
    }

    /// <summary>
    /// Adds the socket to its loop's epoll set on the first wait. An accepted connection starts out readable and
    /// writable (its request usually arrived with the handshake), so one that is served and closed without ever
    /// waiting costs no epoll_ctl at all. Registering reports the current readiness as an edge, so a wait armed
    /// before or after it cannot miss bytes already queued.
    /// </summary>
    /// <param name="poll">
    /// Whether the wait needs readiness events. A ring loop arms the socket's poll only for such a wait: a socket that
    /// receives through the ring and never waits to send needs just its slot, which routes its completions.
    /// </param>
    private bool EnsureRegistered(bool poll = true)
    {
        if (Volatile.Read(ref _registered) != 0 || Interlocked.Exchange(ref _registered, 1) != 0)
        {
            if (poll && Loop.UsesRing && Volatile.Read(ref _pollArmed) == 0 && Interlocked.Exchange(ref _pollArmed, 1) == 0)
            {
                Loop.ArmPoll(this);
            }
            return true;
        }
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            if (poll) _pollArmed = 1;
            var rc = Loop.Register(this, _fd, armPoll: poll);
            if (rc < 0)
            {
                // ENOMEM, or ENOSPC past fs.epoll.max_user_watches: the connection closes; the process goes on.
                if (rc is -SocketSyscalls.ENOMEM or -SocketSyscalls.ENOSPC) Exhaustion.Epoll.Record($"epoll_ctl errno {-rc}");
                return false;
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        if (IsClosed) Loop.Unregister(this); // a close raced with the registration
        return true;
    }

    /// <summary>Receives into <paramref name="buffer"/>: bytes read, 0 at end of stream, -1 when nothing is queued.</summary>
    /// <exception cref="SocketException">The connection failed (reset, timed out).</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed locally.</exception>
    public unsafe int Receive(Span<byte> buffer)
    {
        if (ReceivesThroughRing) return ReceiveFromRing(buffer);
        ConsumeReadReadiness();
        long n;
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            fixed (byte* p = buffer) n = SocketSyscalls.Receive(_fd, p, buffer.Length);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        if (n >= 0) return (int)n;
        if (n == -SocketSyscalls.EAGAIN) return -1;
        throw SocketSyscalls.ToException((int)-n);
    }

    /// <summary>
    /// Copies the queued bytes into <paramref name="buffer"/> without consuming them (MSG_PEEK): bytes copied, 0 at end
    /// of stream, -1 when nothing is queued. Used to read a PROXY header or a ClientHello before deciding anything.
    /// </summary>
    public unsafe int Peek(Span<byte> buffer)
    {
        if (ReceivesThroughRing) throw new InvalidOperationException("cannot peek a socket that receives through the ring");
        ConsumeReadReadiness();
        long n;
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            fixed (byte* p = buffer) n = SocketSyscalls.Peek(_fd, p, buffer.Length);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        if (n >= 0) return (int)n;
        if (n == -SocketSyscalls.EAGAIN) return -1;
        throw SocketSyscalls.ToException((int)-n);
    }

    /// <summary>The local address the peer connected to (getsockname); null when it cannot be read.</summary>
    public unsafe IPEndPoint? LocalEndPoint()
    {
        var address = stackalloc byte[SocketAddressCodec.MaxLength];
        var length = SocketAddressCodec.MaxLength;
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            if (SocketSyscalls.GetSockName(_fd, address, &length) != 0) return null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        return SocketAddressCodec.Read(new ReadOnlySpan<byte>(address, Math.Min(length, SocketAddressCodec.MaxLength)));
    }

    /// <summary>Sends what the kernel takes now: bytes sent (possibly fewer than given), or -1 when the send buffer is full.</summary>
    /// <exception cref="SocketException">The connection failed (reset, broken pipe).</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed locally.</exception>
    public unsafe int Send(ReadOnlySpan<byte> data)
    {
        long n;
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            fixed (byte* p = data)
            {
                n = SocketSyscalls.Send(_fd, p, data.Length);
                if (n == -SocketSyscalls.EAGAIN)
                {
                    // Forget an old "writable" edge, then look once more: an edge from now on marks it Ready again,
                    // so the caller's wait cannot miss the moment space frees up.
                    ConsumeWriteReadiness();
                    n = SocketSyscalls.Send(_fd, p, data.Length);
                }
            }
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        if (n >= 0) return (int)n;
        if (n == -SocketSyscalls.EAGAIN) return -1;
        throw SocketSyscalls.ToException((int)-n);
    }

    /// <summary>Completes true when bytes (or end of stream, or an error) may be waiting; false once the socket is closed.</summary>
    /// <remarks>
    /// Once the peer closed (RDHUP/HUP/ERR) it completes at once: a FIN that arrived together with the last bytes
    /// raised its one edge before the read that took those bytes, so "short read = drained" does not hold for it.
    /// </remarks>
    public ValueTask<bool> WaitReadableAsync()
    {
        if (_ringAcceptor is not null) return Wait(ref _readState, _readWaiter, poll: false); // woken by accept completions
        if (ReceivesThroughRing)
        {
            // The end arrives as a completion after the last bytes, never ahead of them: no peer-close shortcut.
            return Volatile.Read(ref _pending) is not null && !IsClosed ? new ValueTask<bool>(true) : Wait(ref _readState, _readWaiter, poll: false);
        }
        return _peerClosed && !IsClosed ? new ValueTask<bool>(true) : Wait(ref _readState, _readWaiter);
    }

    /// <summary>Completes true when the send buffer may have room (or the socket failed); false once closed.</summary>
    public ValueTask<bool> WaitWritableAsync() => Wait(ref _writeState, WriteWaiter);

    /// <summary>True once the peer closed or the connection failed (RDHUP, HUP or ERR seen).</summary>
    public bool PeerClosed => _peerClosed;

    /// <summary>True when a receive may find bytes, end of stream or an error without waiting (or the socket is closed).</summary>
    public bool MaybeReadable => ReceivesThroughRing
        ? Volatile.Read(ref _inbox) is not null || Volatile.Read(ref _pending) is not null || Volatile.Read(ref _ringEnd) != RingOpen || IsClosed
        : _peerClosed || Volatile.Read(ref _readState) is Ready or Closed;

    /// <summary>Resumes a parked read wait as if bytes had arrived (the woken reader finds EAGAIN at worst); any thread.</summary>
    public void WakeReader() => Signal(ref _readState, _readWaiter);

    /// <summary>Resumes a parked write wait as if room had freed up; any thread.</summary>
    public void WakeWriter() => SignalWrite();

    /// <summary>
    /// Callback form of <see cref="WaitReadableAsync"/> for readers that are value-task sources themselves: true when
    /// readable now (nothing registered); false when <paramref name="callback"/>(<paramref name="state"/>) will run
    /// on readiness, after which <see cref="EndReadWait"/> tells whether the socket is still open. A static callback
    /// with the reader as state costs no delegate per connection.
    /// </summary>
    public bool TryWaitReadable(Action<object?> callback, object state) => ReceivesThroughRing
        ? TryWaitRingReceive(callback, state)
        : (_peerClosed && !IsClosed) || !Arm(ref _readState, _readWaiter, callback, state);

    /// <summary>The outcome of the wait armed by <see cref="TryWaitReadable"/>: true = readable, false = closed.</summary>
    public bool EndReadWait() => _readWaiter.GetResult(_readWaiter.Version);

    /// <summary>Callback form of <see cref="WaitWritableAsync"/>; see <see cref="TryWaitReadable"/>.</summary>
    public bool TryWaitWritable(Action<object?> callback, object state) => !Arm(ref _writeState, WriteWaiter, callback, state);

    /// <summary>The outcome of the wait armed by <see cref="TryWaitWritable"/>.</summary>
    public bool EndWriteWait() => WriteWaiter.GetResult(WriteWaiter.Version);

    /// <summary>
    /// The write direction's waiter, made on first use by the one writer. It is published before the state can become
    /// Waiting (TryArm's compare-exchange is a full fence), so whoever completes a wait finds it.
    /// </summary>
    private ReadinessWaiter WriteWaiter => Volatile.Read(ref _writeWaiter) ?? CreateWriteWaiter();

    private ReadinessWaiter CreateWriteWaiter()
    {
        var waiter = new ReadinessWaiter();
        return Interlocked.CompareExchange(ref _writeWaiter, waiter, null) ?? waiter;
    }

    /// <summary>Arms <paramref name="waiter"/> for the next edge through the callback form: true when armed.</summary>
    private bool Arm(ref int state, ReadinessWaiter waiter, Action<object?> callback, object callbackState, bool poll = true)
    {
        if (!TryArm(ref state, waiter, out _, poll)) return false;
        waiter.OnCompleted(callback, callbackState, waiter.Version, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags.None);
        return true;
    }

    /// <summary>
    /// Arms <paramref name="waiter"/> for the next edge of one direction: true when armed (NotReady → Waiting);
    /// false when there is nothing to wait for, with <paramref name="ready"/> telling ready now (true) from closed.
    /// </summary>
    private bool TryArm(ref int state, ReadinessWaiter waiter, out bool ready, bool poll = true)
    {
        var current = Volatile.Read(ref state);
        if (current is Ready or Closed)
        {
            ready = current == Ready;
            return false;
        }
        if (!EnsureRegistered(poll))
        {
            Abort(); // cannot wait without the loop: fail the connection rather than hang it
            ready = false;
            return false;
        }
        waiter.Reset();
        var previous = Interlocked.CompareExchange(ref state, Waiting, NotReady);
        ready = previous == Ready;
        return previous == NotReady;
    }

    /// <summary>Marks the read side drained; call right before a read syscall on <see cref="Handle"/> (splice).</summary>
    public void ConsumeReadReadiness()
    {
        if (Volatile.Read(ref _readState) == Ready) Interlocked.CompareExchange(ref _readState, NotReady, Ready);
    }

    /// <summary>Marks the write side full; call before retrying a write that answered EAGAIN (splice).</summary>
    public void ConsumeWriteReadiness()
    {
        if (Volatile.Read(ref _writeState) == Ready) Interlocked.CompareExchange(ref _writeState, NotReady, Ready);
    }

    private ValueTask<bool> Wait(ref int state, ReadinessWaiter waiter, bool poll = true) =>
        TryArm(ref state, waiter, out var ready, poll) ? new ValueTask<bool>(waiter, waiter.Version) : new ValueTask<bool>(ready);

    /// <summary>Called by the loop with the epoll event mask.</summary>
    internal void OnEvents(uint events)
    {
        if (ReceivesThroughRing)
        {
            // The receive's own completions carry the read side, end of stream included, in order with the bytes.
            if ((events & (SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR)) != 0) SignalWrite();
            return;
        }
        if ((events & (SocketSyscalls.EPOLLRDHUP | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR)) != 0) _peerClosed = true;
        if ((events & (SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLRDHUP | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR)) != 0)
        {
            Signal(ref _readState, _readWaiter);
        }
        if ((events & (SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR)) != 0)
        {
            SignalWrite();
        }
    }

    private static void Signal(ref int state, ReadinessWaiter waiter)
    {
        if (MarkReady(ref state)) waiter.Complete(true);
    }

    /// <summary>The write side's <see cref="Signal"/>: its waiter is read only once a wait is known to exist.</summary>
    private void SignalWrite()
    {
        if (MarkReady(ref _writeState)) Volatile.Read(ref _writeWaiter)!.Complete(true);
    }

    /// <summary>Moves one direction to Ready: true when a wait was parked on it (the caller completes it).</summary>
    private static bool MarkReady(ref int state)
    {
        while (true)
        {
            var current = Volatile.Read(ref state);
            if (current is Ready or Closed) return false;
            if (Interlocked.CompareExchange(ref state, Ready, current) == current) return current == Waiting;
        }
    }

    private static void Close(ref int state, ReadinessWaiter waiter)
    {
        if (Interlocked.Exchange(ref state, Closed) == Waiting) waiter.Complete(false);
    }

    /// <summary>Sends FIN; receiving goes on (the peer may still answer).</summary>
    public void ShutdownSend() => ShutdownCore(SocketSyscalls.SHUT_WR);

    /// <summary>Sends FIN and ends receiving: a parked receive wakes to end of stream.</summary>
    public void ShutdownBoth() => ShutdownCore(SocketSyscalls.SHUT_RDWR);

    /// <summary>
    /// On a ring loop, for a connection about to be closed with nothing of the peer's left unread: its writer's FIN is
    /// left to the close, which sends it after the queued bytes as shutdown(SHUT_WR) would, and which the ring submits
    /// with the loop's next entry where shutdown() would be a syscall of its own (the ring's shutdown runs on an io-wq
    /// worker). The caller must close right after the writer completed: until then no FIN goes out. No-op on epoll.
    /// </summary>
    public void LeaveFinToClose()
    {
        if (Loop.UsesRing) _finAtClose = true;
    }

    private void ShutdownCore(int how)
    {
        if (how == SocketSyscalls.SHUT_WR && _finAtClose) return; // the close that follows sends it
        if (Interlocked.Read(ref _sendInFlight) != 0)
        {
            // A ring send is in flight: a FIN now would overtake it. Stop receiving now, send FIN after the last
            // send completed (RunDeferredShutdown); re-checked after recording, so a drain in between is not missed.
            if (how == SocketSyscalls.SHUT_RDWR) ShutdownNow(SocketSyscalls.SHUT_RD);
            Interlocked.Exchange(ref _deferredShutdown, 1);
            if (Interlocked.Read(ref _sendInFlight) != 0 || Interlocked.Exchange(ref _deferredShutdown, 0) == 0) return;
            how = SocketSyscalls.SHUT_WR;
        }
        ShutdownNow(how);
    }

    /// <summary>Loop thread, once the ring's sends drained (<see cref="SetSendInFlight"/>(0) first): sends a FIN a shutdown deferred.</summary>
    internal void RunDeferredShutdown()
    {
        if (Volatile.Read(ref _deferredShutdown) != 0 && Interlocked.Exchange(ref _deferredShutdown, 0) != 0) ShutdownNow(SocketSyscalls.SHUT_WR);
    }

    private void ShutdownNow(int how)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            SocketSyscalls.Shutdown(_fd, how); // ENOTCONN when the peer is gone: nothing left to say
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>Closes with RST: unsent bytes are dropped, waits wake with false. Idempotent, any thread.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            SocketSyscalls.SetLingerZero(_fd);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        Teardown();
    }

    /// <summary>Closes (FIN, or RST if unread bytes remain, as close(2) decides); waits wake with false. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        Teardown();
    }

    private void Teardown()
    {
        if (_countedOnLoop) Loop.ClientClosed();
        if (Volatile.Read(ref _registered) != 0) Loop.Unregister(this);
        // A ring send holds the file until it completes: cancel it, as close() drops the unsent bytes on epoll. It
        // was queued before this close, so its SQE goes in ahead of the cancel and the kernel takes what fits.
        var send = Interlocked.Read(ref _sendInFlight);
        if (send != 0) Loop.CancelSend(send);
        _handle.Dispose();
        Close(ref _readState, _readWaiter);
        if (Interlocked.Exchange(ref _writeState, Closed) == Waiting) Volatile.Read(ref _writeWaiter)!.Complete(false);
        DiscardRingBytes();
    }
}
