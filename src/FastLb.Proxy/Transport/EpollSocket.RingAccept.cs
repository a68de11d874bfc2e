using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class EpollSocket
{
    private RingAcceptor? _ringAcceptor; // set on a listener that accepts through its loop's ring

    /// <summary>The accepts a ring loop keeps armed for this listener, or null (accept4 on readiness).</summary>
    internal RingAcceptor? RingAcceptor => _ringAcceptor;

    /// <summary>True for a listener whose connections are accepted by the ring (<see cref="ForRingListener"/>).</summary>
    public bool AcceptsThroughRing => _ringAcceptor is not null;

    /// <summary>
    /// Takes over a bound, listening .NET socket for accepting through <paramref name="loop"/>'s ring (single-shot
    /// IORING_OP_ACCEPTs, see EpollLoop.RingAccept.cs); on an epoll loop, the same as <see cref="ForListener"/>.
    /// Use <see cref="ArmRingAccepts"/>, <see cref="TakeRingAccepted"/> and <see cref="StopRingAccepts"/> on the loop's
    /// thread instead of <see cref="Accept"/>; it has no readiness poll.
    /// </summary>
    public static EpollSocket ForRingListener(Socket listening, EpollLoop loop)
    {
        if (!loop.UsesRing) return ForListener(listening, loop);
        listening.Blocking = false;
        listening.NoDelay = true; // copied by Linux to every accepted socket, as in ForListener
        var handle = listening.SafeHandle;
        // Not registered with the loop: its completions are routed by the loop's acceptor table, not by a token.
        return new EpollSocket(handle, (int)handle.DangerousGetHandle(), loop, readable: false, writable: false, remote: default)
        {
            _ringAcceptor = new RingAcceptor(),
        };
    }

    /// <summary>
    /// Loop thread: arms accepts until <paramref name="count"/> (at most <see cref="RingAcceptor.Slots"/>) are armed or
    /// waiting to be taken; only one while the kernel last reported the backlog empty.
    /// </summary>
    public void ArmRingAccepts(int count)
    {
        var acceptor = _ringAcceptor!;
        if (acceptor.Stopping || IsClosed) return;
        // An empty backlog needs one accept. The kernel wakes one armed accept per connection, oldest first (accepts poll
        // exclusively): more would only hold poll entries, and with every loop accepting, a loop with several armed
        // would take several connections in turn for each one another loop takes.
        if (!acceptor.BacklogMayHoldMore) count = Math.Min(count, 1);
        var wanted = count - acceptor.Armed - acceptor.DoneCount;
        if (wanted <= 0) return;
        Span<int> slots = stackalloc int[RingAcceptor.Slots];
        var n = acceptor.Reserve(wanted, slots);
        for (var i = 0; i < n; i++) Loop.ArmAccept(this, slots[i]);
    }

    /// <summary>Loop thread: cancels the armed accepts (at a limit, so new connections wait in the backlog); no-op when none is armed.</summary>
    public void CancelRingAccepts()
    {
        if (_ringAcceptor!.Armed > 0) Loop.CancelAccepts(this);
    }

    /// <summary>Any thread: cancels the armed accepts with the loop's next submission, which wakes the accept loop.</summary>
    public void RequestRingAcceptsCancelled() => Loop.CancelAccepts(this);

    /// <summary>Loop thread: true when a completed accept (a connection or an error) waits to be taken.</summary>
    public bool HasRingAccepted => _ringAcceptor!.DoneCount > 0;

    /// <summary>Loop thread: accepts queued or in the kernel.</summary>
    public int RingAcceptsArmed => _ringAcceptor!.Armed;

    /// <summary>True once <see cref="StopRingAccepts"/> ran: nothing is armed from then on.</summary>
    public bool RingAcceptsStopped => _ringAcceptor!.Stopping;

    /// <summary>
    /// Any thread: stops arming and cancels the armed accepts, leaving the socket open; the accept loop takes what
    /// the kernel accepted before the cancels ran and ends once <see cref="RingAcceptsArmed"/> is 0.
    /// </summary>
    public void StopRingAccepts()
    {
        _ringAcceptor!.Stop();
        Loop.CancelAccepts(this);
    }

    /// <summary>
    /// Loop thread: takes the oldest completed accept. A connection becomes a socket as <see cref="Accept"/> makes it
    /// (same <paramref name="loop"/> and <paramref name="registerOnOtherLoop"/>); null with <paramref name="errno"/>
    /// 0 when none waits, or with the accept's errno (EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors). When the
    /// data plane's budget has no descriptor for the connection, it stays waiting here (unread, like one in the
    /// backlog) and the answer is EMFILE.
    /// </summary>
    /// <exception cref="DescriptorsExhaustedException">Registering on another loop failed for lack of memory.</exception>
    /// <exception cref="SocketException">Registering on another loop failed otherwise.</exception>
    public EpollSocket? TakeRingAccepted(out int errno, EpollLoop? loop = null, bool registerOnOtherLoop = true)
    {
        errno = 0;
        var acceptor = _ringAcceptor!;
        if (acceptor.DoneCount == 0) return null;
        var budget = DescriptorBudget.Process;
        if (acceptor.PeekResult() >= 0 && !budget.TryTake())
        {
            errno = SocketSyscalls.EMFILE;
            return null;
        }
        acceptor.TryTake(out var result, out var remote);
        if (result < 0)
        {
            errno = -result;
            return null;
        }
        return Accepted(result, remote, budget, loop, registerOnOtherLoop);
    }

    /// <summary>Loop thread: closes the oldest completed accept's connection (at a limit in close mode, or stopping); true when one was closed.</summary>
    public bool DropRingAccepted()
    {
        if (!_ringAcceptor!.TryTake(out var result, out _) || result < 0) return false;
        SocketSyscalls.Close(result);
        return true;
    }

    /// <summary>Called by the loop when one of this listener's accepts completed (or ended unsubmitted).</summary>
    internal void OnRingAcceptCompleted() => Signal(ref _readState, _readWaiter);

    /// <summary>Wraps an accepted descriptor (budget taken), from <see cref="Accept"/> or <see cref="TakeRingAccepted"/>.</summary>
    private EpollSocket Accepted(int fd, PeerAddress remote, DescriptorBudget budget, EpollLoop? loop, bool registerOnOtherLoop)
    {
        _accepted++;
        var handle = new SocketFdHandle(fd, budget);
        loop ??= Loop.Group.Next();
        EpollSocket socket;
        if (ReferenceEquals(loop, Loop) || !registerOnOtherLoop)
        {
            // Served by the accepting loop: readable at once. A client's request usually arrived with the handshake,
            // so the first receive is tried before anything is registered (see EnsureRegistered); a connection that
            // has to wait registers then, and one served and closed without waiting costs no epoll_ctl.
            socket = new EpollSocket(handle, fd, loop, readable: true, writable: true, remote);
        }
        else
        {
            // Served by another loop: register there now and let its first edge start the connection on that loop's
            // thread, so even the first request runs where the rest will.
            socket = Register(fd, handle, loop, readable: false, writable: true, remote);
        }
        socket._countedOnLoop = true;
        loop.ClientOpened();
        return socket;
    }
}
