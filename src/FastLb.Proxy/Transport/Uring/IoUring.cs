using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary>One io_uring instance: the submission and completion rings mapped into this process, and the calls that drive them.</summary>
/// <remarks>
/// <para>
/// Not thread-safe by design: one event loop owns a ring and is the only thread that fills SQEs, enters the kernel and
/// reaps completions (the ring is created with IORING_SETUP_SINGLE_ISSUER where the kernel has it, which makes the
/// kernel hold us to that). SQEs are filled locally and published with one release store of the SQ tail right before
/// <see cref="Enter"/>, so a whole loop iteration's operations go in with one io_uring_enter.
/// </para>
/// <para>
/// Overflow: <see cref="TryGetSqe"/> answers null when every SQ slot is taken; the caller submits (<see cref="Enter"/>
/// with no wait) and asks again. Completions never get lost: the transport requires IORING_FEAT_NODROP, under which the
/// kernel parks completions that do not fit the CQ and flushes them on the next entry; an entry that cannot even park
/// them answers EBUSY, and the caller reaps before entering again.
/// </para>
/// </remarks>
internal sealed unsafe class IoUring : IDisposable
{
    private readonly int _fd;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint* _sqFlags;
    private readonly uint _sqMask;
    private readonly IoUringSqe* _sqes;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint* _cqOverflow;
    private readonly uint _cqMask;
    private readonly IoUringCqe* _cqes;
    private readonly void* _ringMap;
    private readonly nuint _ringMapSize;
    private readonly void* _cqMap; // null when the kernel maps SQ and CQ together (IORING_FEAT_SINGLE_MMAP)
    private readonly nuint _cqMapSize;
    private readonly nuint _sqesSize;
    private uint _sqeTail; // SQEs handed out; published to *_sqTail by Enter
    private uint _cqHeadLocal;
    private int _enterFd;     // the fd io_uring_enter names: the ring's own, or its index among the thread's registered rings
    private uint _enterFlags; // IORING_ENTER_REGISTERED_RING once registered
    private bool _disposed;

    private IoUring(int fd, in IoUringParams p, void* ringMap, nuint ringMapSize, void* cqMap, nuint cqMapSize, IoUringSqe* sqes)
    {
        _fd = fd;
        _enterFd = fd;
        SetupFlags = p.Flags;
        Features = p.Features;
        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;
        _ringMap = ringMap;
        _ringMapSize = ringMapSize;
        _cqMap = cqMap;
        _cqMapSize = cqMapSize;
        _sqes = sqes;
        _sqesSize = p.SqEntries * (nuint)sizeof(IoUringSqe);
        var sq = (byte*)ringMap;
        var cq = cqMap == null ? sq : (byte*)cqMap;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqFlags = (uint*)(sq + p.SqOff.Flags);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqOverflow = (uint*)(cq + p.CqOff.Overflow);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (IoUringCqe*)(cq + p.CqOff.Cqes);
        // SQ slot i always holds SQE i: SQEs are used in ring order, so the indirection array is the identity, set once.
        var array = (uint*)(sq + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++) array[i] = i;
        _sqeTail = *_sqTail;
        _cqHeadLocal = *_cqHead;
    }

    /// <summary>The ring's fd (for IORING_OP_MSG_RING or diagnostics).</summary>
    public int Fd => _fd;

    /// <summary>The IORING_SETUP_* flags the ring was created with (the first set the kernel accepted).</summary>
    public uint SetupFlags { get; }

    /// <summary>IORING_FEAT_* the kernel reported.</summary>
    public uint Features { get; }

    public uint SqEntries { get; }

    public uint CqEntries { get; }

    /// <summary>SQEs filled that the kernel has not consumed yet.</summary>
    public uint Unsubmitted => _sqeTail - Volatile.Read(ref *_sqHead);

    /// <summary>Completions the kernel has posted and we have not reaped.</summary>
    public uint CompletionsReady => Volatile.Read(ref *_cqTail) - _cqHeadLocal;

    /// <summary>True while the kernel holds completions that did not fit the CQ (they arrive on the next entry).</summary>
    public bool CqOverflowPending => (Volatile.Read(ref *_sqFlags) & UringConstants.SqCqOverflow) != 0;

    /// <summary>Completions the kernel had to drop (only on kernels without IORING_FEAT_NODROP; the transport refuses those).</summary>
    public uint CqDropped => Volatile.Read(ref *_cqOverflow);

    /// <summary>Creates a ring trying each flag set in turn (the first the kernel accepts wins): 0 and the ring, or -errno of the last try.</summary>
    /// <param name="entries">SQ size (rounded up to a power of two by the kernel).</param>
    /// <param name="cqEntries">CQ size, at least <paramref name="entries"/>.</param>
    /// <param name="flagSets">IORING_SETUP_* combinations, most wanted first; IORING_SETUP_CQSIZE is added to each.</param>
    public static int TryCreate(uint entries, uint cqEntries, ReadOnlySpan<uint> flagSets, out IoUring? ring)
    {
        ring = null;
        var rc = -UringSyscalls.EINVAL;
        foreach (var flags in flagSets)
        {
            IoUringParams p = default;
            p.Flags = flags | UringConstants.SetupCqSize;
            p.CqEntries = Math.Max(cqEntries, entries);
            rc = UringSyscalls.Setup(entries, &p);
            if (rc == -UringSyscalls.EINVAL) continue; // a flag this kernel does not know: try the next set
            if (rc < 0) return rc; // ENOSYS, EPERM (io_uring_disabled, seccomp), ENOMEM: no set will do better
            return Map(rc, p, out ring);
        }
        return rc;
    }

    /// <summary>The flag sets an event loop asks for: single issuer + deferred task work, else cooperative task work, else none.</summary>
    public static ReadOnlySpan<uint> LoopFlagSets => new[]
    {
        UringConstants.SetupSingleIssuer | UringConstants.SetupDeferTaskrun | UringConstants.SetupSubmitAll,
        UringConstants.SetupCoopTaskrun | UringConstants.SetupTaskrunFlag | UringConstants.SetupSubmitAll,
        UringConstants.SetupSubmitAll,
        0u,
    };

    private static int Map(int fd, IoUringParams p, out IoUring? ring)
    {
        ring = null;
        var sqSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
        var cqSize = p.CqOff.Cqes + p.CqEntries * (uint)sizeof(IoUringCqe);
        var single = (p.Features & UringConstants.FeatSingleMmap) != 0;
        nuint ringSize = single ? Math.Max(sqSize, cqSize) : sqSize;
        var ringMap = UringSyscalls.MapRing(fd, ringSize, UringConstants.OffSqRing);
        void* cqMap = null;
        if (!single && ringMap != null) cqMap = UringSyscalls.MapRing(fd, cqSize, UringConstants.OffCqRing);
        var sqes = (IoUringSqe*)UringSyscalls.MapRing(fd, p.SqEntries * (nuint)sizeof(IoUringSqe), UringConstants.OffSqes);
        if (ringMap == null || (!single && cqMap == null) || sqes == null)
        {
            UringSyscalls.Unmap(ringMap, ringSize);
            UringSyscalls.Unmap(cqMap, cqSize);
            UringSyscalls.Unmap(sqes, p.SqEntries * (nuint)sizeof(IoUringSqe));
            UringSyscalls.Close(fd);
            return -UringSyscalls.ENOMEM;
        }
        ring = new IoUring(fd, p, ringMap, ringSize, cqMap, single ? 0 : cqSize, sqes);
        return 0;
    }

    /// <summary>The next free SQE, zeroed, or null when the SQ is full (submit with <see cref="Enter"/>, then ask again).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public IoUringSqe* TryGetSqe()
    {
        if (_sqeTail - Volatile.Read(ref *_sqHead) >= SqEntries) return null;
        var sqe = &_sqes[_sqeTail & _sqMask];
        *sqe = default;
        _sqeTail++;
        return sqe;
    }

    /// <summary>
    /// Registers the ring's descriptor with the calling thread (IORING_REGISTER_RING_FDS), so each <see cref="Enter"/>
    /// names it by index and the kernel skips looking the file up (a reference taken and dropped on the process's
    /// shared file table per call). The registration belongs to the thread: call it on the one thread that enters
    /// the ring, and only there. False when the kernel refused it (entries then use the descriptor).
    /// </summary>
    public bool RegisterRingFd()
    {
        var update = new IoUringRsrcUpdate { Offset = uint.MaxValue, Data = (ulong)_fd }; // offset -1: any free index
        if (Register(UringConstants.RegisterRingFds, &update, 1) != 1) return false;
        _enterFd = (int)update.Offset;
        _enterFlags = UringConstants.EnterRegisteredRing;
        return true;
    }

    /// <summary>True once <see cref="RegisterRingFd"/> succeeded.</summary>
    public bool RingFdRegistered => _enterFlags != 0;

    /// <summary>The SQ slot <paramref name="sqe"/> occupies: per-slot side data stays put until the kernel consumed the SQE.</summary>
    public uint SlotOf(IoUringSqe* sqe) => (uint)(sqe - _sqes);

    /// <summary>
    /// Publishes every filled SQE and enters the kernel once: submits them, and when <paramref name="waitFor"/> &gt; 0
    /// waits until that many completions are ready or <paramref name="timeoutNs"/> passes (-1: no timeout).
    /// Returns the number submitted, or -errno (EINTR: a signal; ETIME: the timeout; EBUSY/EAGAIN: reap, then retry).
    /// </summary>
    public int Enter(uint waitFor, long timeoutNs = -1)
    {
        if (_sqeTail != *_sqTail) Volatile.Write(ref *_sqTail, _sqeTail); // release: the SQE contents before the tail
        // Count from the kernel's head, not from the last published tail: SQEs an earlier entry left unconsumed (it
        // answered EBUSY or submitted only part) are still queued and go in with this one.
        var toSubmit = _sqeTail - Volatile.Read(ref *_sqHead);
        // With deferred task work the kernel runs completions only when asked: a pass that reaped nothing must still
        // enter with GETEVENTS when the kernel flags pending task work or parked overflow, or they would wait forever.
        var flags = waitFor > 0 || (Volatile.Read(ref *_sqFlags) & (UringConstants.SqTaskrun | UringConstants.SqCqOverflow)) != 0
            || (SetupFlags & UringConstants.SetupDeferTaskrun) != 0
            ? UringConstants.EnterGetEvents
            : 0;
        if (toSubmit == 0 && flags == 0) return 0;
        if (timeoutNs >= 0 && waitFor > 0)
        {
            var ts = new KernelTimespec { Seconds = timeoutNs / 1_000_000_000, Nanoseconds = timeoutNs % 1_000_000_000 };
            var arg = new IoUringGeteventsArg { Ts = (ulong)&ts };
            return UringSyscalls.Enter(_enterFd, toSubmit, waitFor, flags | _enterFlags | UringConstants.EnterExtArg, &arg, (nuint)sizeof(IoUringGeteventsArg));
        }
        return UringSyscalls.Enter(_enterFd, toSubmit, waitFor, flags | _enterFlags, null, 0);
    }

    /// <summary>Takes the oldest ready completion: true and its copy, or false when none is ready.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReap(out IoUringCqe cqe)
    {
        var head = _cqHeadLocal;
        if (head == Volatile.Read(ref *_cqTail)) // acquire: the CQE contents after the tail
        {
            cqe = default;
            return false;
        }
        cqe = _cqes[head & _cqMask];
        _cqHeadLocal = head + 1;
        Volatile.Write(ref *_cqHead, head + 1); // the slot is free for the kernel once we copied it
        return true;
    }

    /// <summary>io_uring_register on this ring: the result, or -errno.</summary>
    public int Register(uint opcode, void* arg, uint count) => UringSyscalls.Register(_fd, opcode, arg, count);

    /// <summary>Unmaps the rings and closes the fd; the kernel cancels whatever is still in flight. Idempotent.</summary>
    /// <remarks>
    /// Call it on the thread that registered the ring's descriptor, if one did (the registration is that thread's).
    /// Memory an operation still in flight points at (receive buffers, send data) must outlive this call's cancellations:
    /// owners cancel and reap their operations first (see the event loop's teardown), then dispose the ring.
    /// </remarks>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_enterFlags != 0)
        {
            // The thread's registration holds a reference to the ring's file: drop it, or the close below would not free the ring.
            var update = new IoUringRsrcUpdate { Offset = (uint)_enterFd };
            Register(UringConstants.UnregisterRingFds, &update, 1);
            _enterFlags = 0;
        }
        UringSyscalls.Unmap(_sqes, _sqesSize);
        UringSyscalls.Unmap(_cqMap, _cqMapSize);
        UringSyscalls.Unmap(_ringMap, _ringMapSize);
        UringSyscalls.Close(_fd);
    }
}
