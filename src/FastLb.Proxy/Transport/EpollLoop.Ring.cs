using System.Collections.Concurrent;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>The io_uring form of the loop: one ring per loop, one io_uring_enter per iteration.</summary>
/// <remarks>
/// <para>
/// Readiness comes from one multishot IORING_OP_POLL_ADD per socket (edge-triggered, like the epoll registration it
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
/// closed (its poll cancelled or not) never reaches the socket that reused its slot.
/// </para>
/// </remarks>
internal sealed unsafe partial class EpollLoop
{
    private const ulong CancelTag = ulong.MaxValue - 1;
    private const uint PollAddMulti = 1; // IORING_POLL_ADD_MULTI, in sqe->len
    private const uint PollMask = SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLRDHUP
        | SocketSyscalls.EPOLLHUP | SocketSyscalls.EPOLLERR;

    private readonly uint _ringEntries;
    private readonly ConcurrentQueue<RingRequest>? _ringRequests;
    private readonly Queue<ulong> _rearm = new(); // polls the kernel ended, armed again at the next submission (loop thread only)
    private readonly ManualResetEventSlim _ringReady = new();
    private IoUring? _ring;
    private string? _ringError;

    /// <summary>True when this loop waits on an io_uring rather than epoll.</summary>
    public bool UsesRing => _ringEntries != 0;

    /// <summary>The ring's IORING_SETUP_* flags (0 on an epoll loop or before the ring exists).</summary>
    internal uint RingSetupFlags => _ring?.SetupFlags ?? 0;

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
        _ring = ring!;
        _ringReady.Set();
        try
        {
            ArmWake(ring!);
            RunRingEvents(ring!);
        }
        finally
        {
            RunPosted(); // work posted before the stop (a close, a timeout) still runs, on this thread
            t_current = null;
            // The kernel cancels every poll still armed and drops its file reference; nothing else points into our memory.
            ring!.Dispose();
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
            Reap(ring);
        }
    }

    private void SubmitRequests(IoUring ring, ConcurrentQueue<RingRequest> requests)
    {
        while (_rearm.TryDequeue(out var token))
        {
            if (LiveSocket(token) is { } socket) ArmPoll(ring, socket.Fd, token);
        }
        while (requests.TryDequeue(out var request))
        {
            if (request.Fd < 0) Cancel(ring, request.Token);
            else if (LiveSocket(request.Token) is not null) ArmPoll(ring, request.Fd, request.Token); // closed since: skip
        }
    }

    private EpollSocket? LiveSocket(ulong token)
    {
        var slots = Volatile.Read(ref _slots);
        var index = (int)(uint)token;
        var socket = index < slots.Length ? slots[index] : null;
        return socket is not null && socket.Token == token ? socket : null;
    }

    private void ArmWake(IoUring ring) => ArmPoll(ring, _wakeFd, WakeToken);

    private void ArmPoll(IoUring ring, int fd, ulong token)
    {
        var sqe = NextSqe(ring);
        sqe->Opcode = UringConstants.OpPollAdd;
        sqe->Fd = fd;
        sqe->OpFlags = PollMask; // poll32_events; without IORING_POLL_ADD_LEVEL a multishot poll is edge-triggered
        sqe->Len = PollAddMulti;
        sqe->UserData = token;
    }

    private void Cancel(IoUring ring, ulong token)
    {
        var sqe = NextSqe(ring);
        sqe->Opcode = UringConstants.OpAsyncCancel;
        sqe->Addr = token;
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
            if (rc <= 0 && rc != -UringSyscalls.EINTR) Reap(ring); // EBUSY: completions wait for room in the CQ
        }
    }

    private void Reap(IoUring ring)
    {
        while (ring.TryReap(out var cqe)) Dispatch(ring, cqe);
    }

    private void Dispatch(IoUring ring, in IoUringCqe cqe)
    {
        var token = cqe.UserData;
        var more = (cqe.Flags & UringConstants.CqeFMore) != 0;
        if (token == WakeToken)
        {
            SocketSyscalls.DrainEventFd(_wakeFd);
            if (!more && !_stopping) ArmWake(ring);
            return;
        }
        if (token == CancelTag) return; // a cancel's own completion (0, or ENOENT when the poll had ended)
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
        if (!more && socket.Token == token && !socket.IsClosed) _rearm.Enqueue(token);
    }
}
