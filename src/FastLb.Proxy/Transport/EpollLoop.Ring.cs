using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>The io_uring form of the loop: one ring per loop, one io_uring_enter per iteration.</summary>
/// <remarks>
/// <para>
/// Receiving completes through the ring: a socket whose reader moved to it (<see cref="EpollSocket.TryStartRingReceive"/>)
/// has one multishot IORING_OP_RECV that picks buffers from the loop's provided-buffer ring. Each completion's bytes
/// are copied into the connection's pooled blocks and the buffer goes back to the kernel at once, so an idle
/// connection holds no receive buffer and a receive costs no syscall of its own. When every buffer is out the receive
/// ends with ENOBUFS, its bytes stay queued in the socket, and it is armed again on the next submission.
/// </para>
/// <para>
/// Readiness (a send off the loop's thread that must wait, connects, splice) comes from one multishot IORING_OP_POLL_ADD per socket,
/// armed on the socket's first such wait (edge-triggered, like the epoll registration it
/// replaces, and armed against the socket's current state, so an edge that came before the arm is reported by it).
/// Arms and cancels are queued (any thread) and written as SQEs by the loop right before it enters the kernel, so a
/// whole iteration's registrations, cancels and the wait cost one syscall; posted work wakes the loop through an
/// eventfd the ring polls. A poll holds a reference to its socket's file, so closing a socket cancels its poll
/// (<see cref="Unregister"/>); a multishot poll the kernel ended (no IORING_CQE_F_MORE) is armed again.
/// </para>
/// <para>
/// Only this thread touches the ring (IORING_SETUP_SINGLE_ISSUER, with DEFER_TASKRUN where the kernel has it, so
/// completions are produced only when the loop asks for them). The SQ filling up is handled by submitting and asking
/// again; the CQ overflowing by IORING_FEAT_NODROP (the kernel keeps the completions and hands them over on the next
/// entry, which then answers EBUSY until the loop reaped). Tokens carry a sequence, so a completion for a socket that
/// closed (its poll cancelled or not) never reaches the socket that reused its slot; the top two bits of user_data say
/// which of the socket's operations completed (sends are routed by slot instead: EpollLoop.RingSend.cs; accepts by
/// listener and slot: EpollLoop.RingAccept.cs). An arm holds a reference to the socket's descriptor until the kernel took
/// the SQE, so a close racing the arm can never leave the operation on a reused descriptor number.
/// </para>
/// </remarks>
internal sealed unsafe partial class EpollLoop
{
    private const ulong CancelTag = ulong.MaxValue - 1;
    private const ulong KindMask = 3UL << 62;
    private const ulong ReceiveKind = 1UL << 62;
    private const ushort ReceiveGroup = 0;
    private const uint PollAddMulti = 1; // IORING_POLL_ADD_MULTI, in sqe->len
    private const uint PollMask = SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLRDHUP
        | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR;

    /// <summary>Provided receive buffers per loop (a power of two); a reap returns each one before the next wait.</summary>
    public const int DefaultReceiveBuffers = 256;

    /// <summary>Bytes per provided receive buffer: one pool block, so a completion's bytes land in one segment.</summary>
    public const int DefaultReceiveBufferSize = PinnedBlockMemoryPool.DefaultBlockSize;

    private readonly uint _ringEntries;
    private readonly int _receiveBuffers;
    private readonly int _receiveBufferSize;
    private readonly ConcurrentQueue<RingRequest>? _ringRequests;
    private readonly Queue<ulong> _rearm = new(); // multishot operations the kernel ended, armed again at the next submission (loop thread only)
    private readonly List<SafeHandle> _heldForSubmit = []; // descriptors referenced by SQEs not yet submitted (loop thread only)
    private readonly ManualResetEventSlim _ringReady = new();
    private IoUring? _ring;
    private ProvidedBufferRing? _buffers;
    private string? _ringError;
    private long _receiveExhausted;
    private long _ringCloses;
    private volatile bool _closesDirect; // the ring is gone: descriptors queued for closing are closed with close()

    /// <summary>True when this loop waits on an io_uring rather than epoll.</summary>
    public bool UsesRing => _ringEntries != 0;

    /// <summary>The ring's IORING_SETUP_* flags (0 on an epoll loop or before the ring exists).</summary>
    internal uint RingSetupFlags => _ring?.SetupFlags ?? 0;

    /// <summary>True when the loop enters its ring through a registered ring descriptor (IORING_REGISTER_RING_FDS).</summary>
    internal bool RingFdRegistered => _ring?.RingFdRegistered ?? false;

    /// <summary>How many times a multishot receive ended because every provided buffer was out (each was armed again).</summary>
    internal long ReceiveBuffersExhausted => Volatile.Read(ref _receiveExhausted);

    /// <summary>Descriptors this loop closed with IORING_OP_CLOSE rather than close().</summary>
    internal long RingCloses => Interlocked.Read(ref _ringCloses);

    /// <summary>
    /// Any thread, for a socket descriptor whose last reference is gone: queues an IORING_OP_CLOSE for the loop's next
    /// submission, so closing costs no syscall of its own (a socket has no ->flush, so io_uring closes it inline at
    /// submission, never on an io-wq worker). The FIN (or the RST close() decides on) goes out with that entry: the
    /// loop is woken when it sleeps. False when the ring is gone or going (the caller closes it itself).
    /// </summary>
    internal bool TryCloseThroughRing(int fd)
    {
        if (_ringRequests is null || _closesDirect) return false;
        RequestRing(new RingRequest(RingOp.Close, null, (ulong)(uint)fd));
        // The loop closes what is queued with close() once its ring is gone (RunRing): set before it drains, so
        // either its drain sees this request or this sees the flag and drains itself. Each fd is dequeued once.
        if (_closesDirect) CloseQueuedDirectly();
        return true;
    }

    /// <summary>After the ring is gone: closes the descriptors still queued for IORING_OP_CLOSE, drops every other request.</summary>
    private void CloseQueuedDirectly()
    {
        while (_ringRequests!.TryDequeue(out var request))
        {
            if (request.Op == RingOp.Close) SocketSyscalls.Close((int)request.Token);
        }
    }

    private void AwaitRingSetup()
    {
        if (!_ringReady.Wait(TimeSpan.FromSeconds(10))) _ringError ??= "the event loop did not set up its ring within 10 s";
        if (_ringError is null) return;
        Stop();
        Join();
        throw new IOException(_ringError);
    }

    /// <summary>Queues an arm or cancel for the loop's next submission; wakes the loop when it sleeps.</summary>
    private void RequestRing(RingRequest request)
    {
        _ringRequests!.Enqueue(request);
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0) Wake();
    }

    /// <summary>Arms the readiness poll of <paramref name="socket"/> (registered with a slot only until now); ring loops only.</summary>
    internal void ArmPoll(EpollSocket socket) => RequestRing(new RingRequest(RingOp.ArmPoll, socket, socket.Token));

    /// <summary>Arms the multishot receive of <paramref name="socket"/>; ring loops only.</summary>
    internal void ArmReceive(EpollSocket socket) => RequestRing(new RingRequest(RingOp.ArmReceive, socket, socket.Token));

    /// <summary>Stops the multishot receive of <paramref name="socket"/> (its reader fell behind) until it is armed again.</summary>
    internal void PauseReceive(EpollSocket socket) => RequestRing(new RingRequest(RingOp.PauseReceive, socket, socket.Token));

    /// <summary>
    /// On a ring loop, returns once the arms and cancels queued before the call went into the kernel (bounded to 2 s
    /// off the loop): a listener closed through <see cref="EpollSocket.CloseListener"/> must stop taking connections
    /// before the caller goes on, and its poll's file reference keeps it listening until the cancel ran. Epoll: no-op.
    /// </summary>
    internal void FlushRing()
    {
        if (_ringRequests is null || _stopping) return;
        if (IsCurrent)
        {
            FlushRingInline();
            return;
        }
        var flush = new RingFlush(this);
        Post(flush);
        flush.Wait(TimeSpan.FromSeconds(2));
    }

    /// <summary>Submits the queued arms and cancels and lets the kernel run the work they cause; loop thread only.</summary>
    internal void FlushRingInline()
    {
        if (_ring is null || _stopping) return;
        SubmitRequests(_ring, _ringRequests!);
        _ring.Enter(0); // with DEFER_TASKRUN this also runs the cancels' completion work, which drops the polls' file references
        ReleaseSubmitted(_ring);
    }

    private void RunRing()
    {
        var rc = IoUring.TryCreate(_ringEntries, _ringEntries * 2, IoUring.LoopFlagSets, out var ring);
        if (rc < 0)
        {
            _ringError = $"io_uring_setup failed: {UringSupport.Describe(-rc)}";
            t_current = null;
            _wakeHandle.Dispose();
            _ringReady.Set();
            return;
        }
        try
        {
            _buffers = new ProvidedBufferRing(ring!, ReceiveGroup, _receiveBuffers, _receiveBufferSize);
        }
        catch (IOException e)
        {
            _ringError = e.Message;
            t_current = null;
            ring!.Dispose();
            _wakeHandle.Dispose();
            _ringReady.Set();
            return;
        }
        ring!.RegisterRingFd(); // this thread alone enters the ring; refused, it names the ring by descriptor
        RegisterFileTable(ring);
        _ring = ring;
        _ringReady.Set();
        try
        {
            ArmWake(ring!);
            RunRingEvents(ring!);
        }
        finally
        {
            RunPosted(); // work posted before the stop (a close, a timeout) still runs, on this thread
            DrainAccepts(ring!); // what the kernel accepted is closed, and no accept writes an address buffer once freed
            DrainSends(ring!); // no block goes back to the pool while the kernel may still read it
            t_current = null;
            // Unregistering the buffer group first means no receive still armed can pick a buffer from here on; then
            // the ring's close cancels every poll and receive and drops their file references.
            _buffers.Dispose();
            ring!.Dispose();
            FreeFileTable();
            foreach (var handle in _heldForSubmit) handle.DangerousRelease();
            _heldForSubmit.Clear();
            _closesDirect = true;
            CloseQueuedDirectly(); // closes queued since the last submission, and the handles released just above
            _wakeHandle.Dispose();
        }
    }

    private void RunRingEvents(IoUring ring)
    {
        var requests = _ringRequests!;
        while (!_stopping)
        {
            RunPosted();
            SubmitRequests(ring, requests);
            // Announce the sleep before looking at the queues once more (a full fence between the two): a Post or a
            // request either is seen here, or sees the flag and wakes the wait.
            Interlocked.Exchange(ref _sleeping, 1);
            var wait = _posted.IsEmpty && requests.IsEmpty && _rearm.Count == 0;
            var rc = ring.Enter(wait ? 1u : 0u);
            Volatile.Write(ref _sleeping, 0);
            if (rc < 0 && rc is not (-UringSyscalls.EINTR or -UringSyscalls.EBUSY or -UringSyscalls.EAGAIN or -UringSyscalls.ETIME))
            {
                Log.Error($"event loop {Id}: io_uring_enter failed: errno {-rc}");
                Thread.Sleep(10);
            }
            ReleaseSubmitted(ring);
            Reap(ring);
        }
    }

    private void SubmitRequests(IoUring ring, ConcurrentQueue<RingRequest> requests)
    {
        // Sends first: a close queued after a send was flushed cancels it only after the kernel took what fits.
        SubmitSends(ring);
        for (var n = _rearm.Count; n > 0 && _rearm.TryDequeue(out var userData); n--)
        {
            var token = userData & ~KindMask;
            if (LiveSocket(token) is not { IsClosed: false } socket) continue;
            if ((userData & KindMask) == ReceiveKind)
            {
                if (!socket.ReceivePaused) ArmReceive(ring, socket, token); // paused: the reader's catch-up arms it
            }
            else ArmPoll(ring, socket, token);
        }
        while (requests.TryDequeue(out var request))
        {
            switch (request.Op)
            {
                case RingOp.ArmPoll:
                    if (LiveSocket(request.Token) is { } polled) ArmPoll(ring, polled, request.Token); // closed since: skip
                    break;
                case RingOp.ArmReceive:
                    if (LiveSocket(request.Token) is { } receiving && !receiving.ReceivePaused) ArmReceive(ring, receiving, request.Token);
                    break;
                case RingOp.CancelPoll:
                    Cancel(ring, request.Token);
                    ReleaseFixedFile(ring, request.Token);
                    break;
                case RingOp.CancelReceive:
                    Cancel(ring, request.Token | ReceiveKind);
                    ReleaseFixedFile(ring, request.Token);
                    break;
                case RingOp.PauseReceive:
                    Cancel(ring, request.Token | ReceiveKind);
                    break;
                case RingOp.ReleaseFile:
                    ReleaseFixedFile(ring, request.Token);
                    break;
                case RingOp.CancelSend:
                    Cancel(ring, request.Token);
                    break;
                case RingOp.ArmAccept:
                    SubmitAccept(ring, request.Socket!, (int)request.Token);
                    break;
                case RingOp.CancelAccepts:
                    CancelAccepts(ring, request.Socket!);
                    break;
                case RingOp.Close:
                    SubmitClose(ring, (int)request.Token);
                    break;
            }
        }
        SubmitSends(ring); // queued by completions reaped while the SQ was full
    }

    private EpollSocket? LiveSocket(ulong token)
    {
        var slots = Volatile.Read(ref _slots);
        var index = (int)(uint)token;
        var socket = index < slots.Length ? slots[index] : null;
        return socket is not null && socket.Token == token ? socket : null;
    }

    private void ArmWake(IoUring ring)
    {
        var sqe = NextSqe(ring);
        sqe->Opcode = UringConstants.OpPollAdd;
        sqe->Fd = _wakeFd;
        sqe->OpFlags = PollMask;
        sqe->Len = PollAddMulti;
        sqe->UserData = WakeToken;
    }

    private void ArmPoll(IoUring ring, EpollSocket socket, ulong token)
    {
        var file = FixedFile(ring, socket, install: false);
        var sqe = NextSqe(ring);
        if (!HoldForSubmit(socket, sqe)) return;
        sqe->Opcode = UringConstants.OpPollAdd;
        SetFile(sqe, socket, file);
        sqe->OpFlags = PollMask; // poll32_events; without IORING_POLL_ADD_LEVEL a multishot poll is edge-triggered
        sqe->Len = PollAddMulti;
        sqe->UserData = token;
    }

    private void ArmReceive(IoUring ring, EpollSocket socket, ulong token)
    {
        var file = FixedFile(ring, socket, install: false);
        var sqe = NextSqe(ring);
        if (!HoldForSubmit(socket, sqe)) return;
        sqe->Opcode = UringConstants.OpRecv;
        sqe->Flags = UringConstants.SqeBufferSelect;
        SetFile(sqe, socket, file);
        sqe->BufGroup = ReceiveGroup;
        sqe->IoPrio = UringConstants.RecvMultishot;
        sqe->UserData = token | ReceiveKind;
    }

    /// <summary>
    /// Keeps the socket's descriptor open until the kernel took <paramref name="sqe"/>: a close meanwhile must not let
    /// the number be reused by a new connection that this operation would then act on. A socket already closed turns
    /// the SQE into a NOP.
    /// </summary>
    private bool HoldForSubmit(EpollSocket socket, IoUringSqe* sqe)
    {
        var handle = socket.Handle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        if (!added)
        {
            sqe->Opcode = UringConstants.OpNop;
            sqe->UserData = CancelTag;
            return false;
        }
        _heldForSubmit.Add(handle);
        return true;
    }

    /// <summary>Drops the descriptor references of SQEs the kernel has consumed (all of them, once nothing is left unsubmitted).</summary>
    private void ReleaseSubmitted(IoUring ring)
    {
        if (_heldForSubmit.Count == 0 || ring.Unsubmitted != 0) return;
        foreach (var handle in _heldForSubmit) handle.DangerousRelease();
        _heldForSubmit.Clear();
    }

    private void SubmitClose(IoUring ring, int fd)
    {
        var sqe = NextSqe(ring);
        sqe->Opcode = UringConstants.OpClose;
        sqe->Fd = fd;
        sqe->Flags = UringConstants.SqeCqeSkipSuccess; // nothing to do after a close that worked
        sqe->UserData = CancelTag;
        _ringCloses++;
    }

    private void Cancel(IoUring ring, ulong userData)
    {
        var sqe = NextSqe(ring);
        sqe->Opcode = UringConstants.OpAsyncCancel;
        sqe->Addr = userData;
        sqe->UserData = CancelTag;
    }

    /// <summary>A free SQE; when the SQ is full, submits what is queued (reaping first if the kernel asks) until one frees up.</summary>
    private IoUringSqe* NextSqe(IoUring ring)
    {
        while (true)
        {
            var sqe = ring.TryGetSqe();
            if (sqe != null) return sqe;
            var rc = ring.Enter(0);
            ReleaseSubmitted(ring);
            if (rc <= 0 && rc != -UringSyscalls.EINTR) Reap(ring); // EBUSY: completions wait for room in the CQ
        }
    }

    private void Reap(IoUring ring)
    {
        while (ring.TryReap(out var cqe)) Dispatch(ring, cqe);
    }

    private void Dispatch(IoUring ring, in IoUringCqe cqe)
    {
        var userData = cqe.UserData;
        if (userData == WakeToken)
        {
            SocketSyscalls.DrainEventFd(_wakeFd);
            if ((cqe.Flags & UringConstants.CqeFMore) == 0 && !_stopping) ArmWake(ring);
            return;
        }
        if (userData == CancelTag) return; // a cancel's own completion (0, or ENOENT when the operation had ended), or a NOP
        if (userData == FileUpdateTag)
        {
            DispatchFileUpdate(cqe); // only failures post one
            return;
        }
        switch (userData & KindMask)
        {
            case ReceiveKind:
                DispatchReceive(cqe, userData & ~KindMask);
                break;
            case SendKind:
                DispatchSend(cqe);
                break;
            case AcceptKind:
                DispatchAccept(cqe);
                break;
            default:
                DispatchPoll(cqe, userData);
                break;
        }
    }

    private void DispatchPoll(in IoUringCqe cqe, ulong token)
    {
        var socket = LiveSocket(token);
        if (socket is null) return; // closed: its poll's last completions are dropped
        try
        {
            if (cqe.Res >= 0)
            {
                socket.OnEvents((uint)cqe.Res);
            }
            else if (cqe.Res != -UringSyscalls.ECANCELED)
            {
                // The poll itself failed (not the connection): wake both sides, whose next syscall finds the truth.
                socket.OnEvents(SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT);
            }
        }
        catch (Exception e)
        {
            // Continuations catch their own failures; anything reaching here is a bug, not a reason to stop the loop.
            Log.Error($"event loop {Id}: unhandled error in a socket continuation: {e}");
        }
        if ((cqe.Flags & UringConstants.CqeFMore) == 0 && socket.Token == token && !socket.IsClosed) _rearm.Enqueue(token);
    }

    private void DispatchReceive(in IoUringCqe cqe, ulong token)
    {
        var socket = LiveSocket(token);
        var res = cqe.Res;
        var signal = false;
        if ((cqe.Flags & UringConstants.CqeFBuffer) != 0)
        {
            // Copy out and hand the buffer straight back, before any continuation runs: the connection keeps the
            // bytes in its own blocks, the kernel gets its buffer for the next completion.
            var bufferId = (ushort)(cqe.Flags >> UringConstants.CqeBufferShift);
            var buffers = _buffers!;
            buffers.Taken(bufferId);
            try
            {
                if (socket is not null && res > 0) signal = socket.StageRingReceived(new ReadOnlySpan<byte>(buffers.Address(bufferId), res));
            }
            finally
            {
                buffers.Recycle(bufferId);
            }
        }
        if (socket is null) return; // closed: the receive's last completions are dropped (their buffers went back above)
        var more = (cqe.Flags & UringConstants.CqeFMore) != 0;
        try
        {
            if (signal) socket.SignalRingReceived();
            else if (res == 0 || (res < 0 && res is not (-UringSyscalls.ENOBUFS or -UringSyscalls.ECANCELED))) socket.OnRingReceiveEnded(res);
        }
        catch (Exception e)
        {
            Log.Error($"event loop {Id}: unhandled error in a socket continuation: {e}");
        }
        if (res == -UringSyscalls.ENOBUFS) Interlocked.Increment(ref _receiveExhausted);
        // Armed again when the kernel ended it with the stream still open: out of buffers (the bytes wait in the
        // socket), or a CQ overflow. End of stream, errors and cancels end it for good.
        if (!more && (res > 0 || res == -UringSyscalls.ENOBUFS) && socket.Token == token && !socket.IsClosed) _rearm.Enqueue(token | ReceiveKind);
    }
}
