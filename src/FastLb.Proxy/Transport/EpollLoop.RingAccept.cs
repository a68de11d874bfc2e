using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>Accepts through the ring: single-shot IORING_OP_ACCEPTs kept armed per listener, each with its own address buffer.</summary>
/// <remarks>
/// <para>
/// Why not IORING_ACCEPT_MULTISHOT: a multishot accept has one address buffer, and the kernel (io_uring/net.c,
/// io_accept) accepts again into that same buffer right after posting each completion, until the backlog is empty,
/// within one run of the loop's task work. The completions of a burst all show the last connection's peer, and
/// the peer is what every HTTP connection needs (X-Forwarded-For, trusted proxies, logs, hashing); a getpeername
/// per connection would cost back the syscall the ring saves. Single-shot accepts with a buffer each give every
/// connection its own peer, and since they are armed again with the loop's next submission (one io_uring_enter
/// for everything), a new connection costs no syscall of its own.
/// </para>
/// <para>
/// Completions are routed by the acceptor's index in this loop's table and the slot (user_data = AcceptKind | index
/// &lt;&lt; 8 | slot). An acceptor keeps its index until nothing of it is in the kernel, so a completion always
/// finds its acceptor, even after the listener closed: an accepted descriptor is then closed, never leaked.
/// </para>
/// </remarks>
internal sealed unsafe partial class EpollLoop
{
    private const ulong AcceptKind = 3UL << 62;
    private const int AcceptSlotBits = 8;

    private EpollSocket?[] _acceptListeners = new EpollSocket?[4]; // by acceptor index (loop thread only)
    private readonly Stack<int> _freeAcceptIndexes = new();
    private int _nextAcceptIndex;

    /// <summary>Queues the arm of <paramref name="listener"/>'s accept slot <paramref name="slot"/> for the next submission.</summary>
    internal void ArmAccept(EpollSocket listener, int slot) => RequestRing(new RingRequest(RingOp.ArmAccept, listener, (ulong)slot));

    /// <summary>Any thread: cancels <paramref name="listener"/>'s accepts in the kernel with the next submission (and, once it closed, drops what it left).</summary>
    internal void CancelAccepts(EpollSocket listener) => RequestRing(new RingRequest(RingOp.CancelAccepts, listener, 0));

    private void SubmitAccept(IoUring ring, EpollSocket listener, int slot)
    {
        var acceptor = listener.RingAcceptor!;
        if (!acceptor.IsQueued(slot)) return;
        if (acceptor.Stopping || listener.IsClosed || _stopping)
        {
            acceptor.Unqueued(slot);
            AcceptEnded(listener, acceptor);
            return;
        }
        if (acceptor.LoopIndex < 0) acceptor.LoopIndex = TakeAcceptIndex(listener);
        var sqe = NextSqe(ring);
        if (!HoldForSubmit(listener, sqe))
        {
            acceptor.Unqueued(slot);
            AcceptEnded(listener, acceptor);
            return;
        }
        acceptor.Submitted(slot, out var address, out var length);
        sqe->Opcode = UringConstants.OpAccept;
        sqe->Fd = listener.Fd;
        sqe->Addr = address;
        sqe->Off = length; // addr2: the socklen_t the kernel reads and writes
        sqe->OpFlags = (uint)SocketSyscalls.SOCK_NONBLOCK | (uint)SocketSyscalls.SOCK_CLOEXEC; // accept4's flags
        sqe->UserData = AcceptUserData(acceptor.LoopIndex, slot);
    }

    private void CancelAccepts(IoUring ring, EpollSocket listener)
    {
        var acceptor = listener.RingAcceptor!;
        if (acceptor.LoopIndex >= 0)
        {
            for (var slot = 0; slot < RingAcceptor.Slots; slot++)
            {
                if (acceptor.IsInKernel(slot)) Cancel(ring, AcceptUserData(acceptor.LoopIndex, slot));
            }
        }
        AcceptEnded(listener, acceptor);
    }

    private static ulong AcceptUserData(int index, int slot) => AcceptKind | ((ulong)(uint)index << AcceptSlotBits) | (uint)slot;

    private void DispatchAccept(in IoUringCqe cqe)
    {
        var index = (int)((cqe.UserData & ~KindMask) >> AcceptSlotBits);
        var slot = (int)(cqe.UserData & ((1u << AcceptSlotBits) - 1));
        var listener = index < _nextAcceptIndex ? _acceptListeners[index] : null;
        var acceptor = listener?.RingAcceptor;
        var open = listener is not null && !listener.IsClosed && !_stopping;
        if (acceptor is null || !acceptor.Completed(slot, cqe.Res, cqe.Flags, keep: open))
        {
            if (cqe.Res >= 0) SocketSyscalls.Close(cqe.Res); // belongs to no armed accept: never leak it
            return;
        }
        if (!open)
        {
            AcceptEnded(listener!, acceptor);
            return;
        }
        try
        {
            listener!.OnRingAcceptCompleted();
        }
        catch (Exception e)
        {
            // Continuations catch their own failures; anything reaching here is a bug, not a reason to stop the loop.
            Log.Error($"event loop {Id}: unhandled error in an accept continuation: {e}");
        }
    }

    /// <summary>
    /// After an accept of <paramref name="listener"/> ended or was never submitted: a closed listener's waiting
    /// descriptors are closed and, once nothing is queued or in the kernel, its buffers and index are freed; an open
    /// one's accept loop is woken (it may be waiting for its last accept to end).
    /// </summary>
    private void AcceptEnded(EpollSocket listener, RingAcceptor acceptor)
    {
        if (!listener.IsClosed && !_stopping)
        {
            listener.OnRingAcceptCompleted();
            return;
        }
        acceptor.CloseWaiting();
        if (acceptor.Armed != 0 || !acceptor.TryRelease()) return;
        if (acceptor.LoopIndex >= 0)
        {
            _acceptListeners[acceptor.LoopIndex] = null;
            _freeAcceptIndexes.Push(acceptor.LoopIndex);
            acceptor.LoopIndex = -1;
        }
    }

    private int TakeAcceptIndex(EpollSocket listener)
    {
        int index;
        if (_freeAcceptIndexes.Count > 0)
        {
            index = _freeAcceptIndexes.Pop();
        }
        else
        {
            index = _nextAcceptIndex++;
            if (index == _acceptListeners.Length) Array.Resize(ref _acceptListeners, index * 2);
        }
        _acceptListeners[index] = listener;
        return index;
    }

    /// <summary>
    /// Ring teardown, before the ring closes: cancels every accept in the kernel and reaps until they ended (bounded),
    /// closing what they accepted; an acceptor still in the kernel after that keeps its buffers (the kernel may write
    /// them until its cancel completed).
    /// </summary>
    private void DrainAccepts(IoUring ring)
    {
        var inKernel = 0;
        for (var index = 0; index < _nextAcceptIndex; index++)
        {
            if (_acceptListeners[index] is not { } listener) continue;
            var acceptor = listener.RingAcceptor!;
            acceptor.Stop();
            for (var slot = 0; slot < RingAcceptor.Slots; slot++)
            {
                if (!acceptor.IsInKernel(slot)) continue;
                Cancel(ring, AcceptUserData(index, slot));
                inKernel++;
            }
        }
        var deadline = Environment.TickCount64 + 1000;
        while (inKernel > 0 && Environment.TickCount64 < deadline)
        {
            ring.Enter(1, 50_000_000);
            ReleaseSubmitted(ring);
            Reap(ring);
            inKernel = 0;
            for (var index = 0; index < _nextAcceptIndex; index++) inKernel += _acceptListeners[index]?.RingAcceptor!.InKernelCount ?? 0;
        }
        for (var index = 0; index < _nextAcceptIndex; index++)
        {
            if (_acceptListeners[index] is not { } listener) continue;
            var acceptor = listener.RingAcceptor!;
            acceptor.CloseWaiting();
            acceptor.TryRelease();
        }
    }
}
