namespace FastLb.Proxy.Transport.Uring;

/// <summary>Whether this kernel (and this process's sandbox) gives the io_uring transport everything it needs.</summary>
/// <remarks>
/// Checked once, on the calling thread, with a throwaway ring: io_uring_setup works (it fails with EPERM under
/// <c>kernel.io_uring_disabled</c> or a seccomp filter, ENOSYS on kernels built without it); the features the transport
/// relies on (NODROP: no lost completion; EXT_ARG: a timed wait; FAST_POLL: socket operations poll in the kernel instead
/// of blocking a worker); the opcodes it submits; a provided-buffer ring registers; and a multishot receive delivers
/// bytes into it and stays armed (kernel 6.0+).
/// </remarks>
internal static unsafe class UringSupport
{
    private static readonly (byte Op, string Name)[] RequiredOps =
    [
        (UringConstants.OpAccept, "ACCEPT"), (UringConstants.OpConnect, "CONNECT"), (UringConstants.OpRecv, "RECV"),
        (UringConstants.OpSend, "SEND"), (UringConstants.OpAsyncCancel, "ASYNC_CANCEL"), (UringConstants.OpShutdown, "SHUTDOWN"),
        (UringConstants.OpSplice, "SPLICE"), (UringConstants.OpLinkTimeout, "LINK_TIMEOUT"), (UringConstants.OpNop, "NOP"),
    ];

    /// <summary>Null when the transport can run here, else why not (one line, for the start log and <c>status</c>).</summary>
    public static string? Probe()
    {
        var rc = IoUring.TryCreate(8, 16, IoUring.LoopFlagSets, out var ring);
        if (rc < 0) return $"io_uring_setup failed: {Describe(-rc)}";
        using (ring)
        {
            var missing = ring!.Features & (UringConstants.FeatNoDrop | UringConstants.FeatExtArg | UringConstants.FeatFastPoll);
            if (missing != (UringConstants.FeatNoDrop | UringConstants.FeatExtArg | UringConstants.FeatFastPoll))
            {
                return $"the kernel lacks IORING_FEAT_NODROP, EXT_ARG or FAST_POLL (features 0x{ring.Features:x})";
            }
            var opsReason = ProbeOps(ring);
            if (opsReason is not null) return opsReason;
            return ProbeMultishotReceive(ring);
        }
    }

    private static string? ProbeOps(IoUring ring)
    {
        const int Slots = 256;
        var probe = stackalloc byte[16 + Slots * sizeof(IoUringProbeOp)];
        new Span<byte>(probe, 16 + Slots * sizeof(IoUringProbeOp)).Clear();
        var rc = ring.Register(UringConstants.RegisterProbe, probe, Slots);
        if (rc < 0) return $"IORING_REGISTER_PROBE failed: {Describe(-rc)}";
        var opsLen = probe[1];
        var ops = (IoUringProbeOp*)(probe + 16);
        foreach (var (op, name) in RequiredOps)
        {
            if (op >= opsLen || (ops[op].Flags & UringConstants.OpSupported) == 0) return $"the kernel lacks IORING_OP_{name}";
        }
        return null;
    }

    private static string? ProbeMultishotReceive(IoUring ring)
    {
        ProvidedBufferRing buffers;
        try
        {
            buffers = new ProvidedBufferRing(ring, 0, 2, 64);
        }
        catch (IOException e)
        {
            return e.Message;
        }
        var fds = stackalloc int[2];
        var rc = UringSyscalls.SocketPair(fds);
        if (rc < 0)
        {
            buffers.Dispose();
            return $"socketpair failed: {Describe(-rc)}";
        }
        try
        {
            var sqe = ring.TryGetSqe();
            sqe->Opcode = UringConstants.OpRecv;
            sqe->Fd = fds[0];
            sqe->Flags = UringConstants.SqeBufferSelect;
            sqe->BufGroup = buffers.GroupId;
            sqe->IoPrio = UringConstants.RecvMultishot;
            sqe->UserData = 1;
            var one = stackalloc byte[1] { 42 };
            UringSyscalls.Write(fds[1], one, 1);
            ring.Enter(1, 1_000_000_000);
            if (!ring.TryReap(out var cqe)) return "a multishot receive completed nothing within 1 s";
            if (cqe.Res < 0) return $"multishot receive failed: {Describe(-cqe.Res)}";
            if ((cqe.Flags & UringConstants.CqeFMore) == 0 || (cqe.Flags & UringConstants.CqeFBuffer) == 0)
            {
                return "multishot receive with provided buffers is not supported (kernel 6.0 or later needed)";
            }
            // Cancel it and wait for its last completion, so the buffer ring is not freed under an armed receive.
            var cancel = ring.TryGetSqe();
            cancel->Opcode = UringConstants.OpAsyncCancel;
            cancel->Addr = 1;
            cancel->UserData = 2;
            var armed = true;
            for (var i = 0; i < 10 && armed; i++)
            {
                ring.Enter(1, 100_000_000);
                while (ring.TryReap(out cqe))
                {
                    if (cqe.UserData == 1 && (cqe.Flags & UringConstants.CqeFMore) == 0) armed = false;
                }
            }
            return null;
        }
        finally
        {
            UringSyscalls.Close(fds[0]);
            UringSyscalls.Close(fds[1]);
            buffers.Dispose();
        }
    }

    /// <summary>An errno as a name an operator can search for.</summary>
    public static string Describe(int errno) => errno switch
    {
        UringSyscalls.EPERM => "EPERM (io_uring disabled by kernel.io_uring_disabled or a seccomp filter)",
        UringSyscalls.ENOSYS => "ENOSYS (kernel built without io_uring)",
        UringSyscalls.ENOMEM => "ENOMEM (locked-memory limit?)",
        UringSyscalls.EINVAL => "EINVAL",
        _ => $"errno {errno}",
    };
}
