using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using FastLb.Proxy.Transport.Uring;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// The ring itself, driven directly on the test thread (its only issuer): submission and completion overflow,
/// provided-buffer exhaustion, cancellation, signals and teardown with operations in flight. Skipped, with the reason,
/// where the kernel or a sandbox does not allow io_uring.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe partial class IoUringTests
{
    private const long Second = 1_000_000_000;

    private static IoUring CreateRing(uint entries = 8, uint cqEntries = 16)
    {
        var rc = IoUring.TryCreate(entries, cqEntries, IoUring.LoopFlagSets, out var ring);
        Assert.True(rc == 0, $"io_uring_setup: errno {-rc}");
        return ring!;
    }

    private static void Nop(IoUring ring, ulong userData)
    {
        var sqe = ring.TryGetSqe();
        Assert.True(sqe != null, "a free SQE");
        sqe->Opcode = UringConstants.OpNop;
        sqe->UserData = userData;
    }

    [UringFact]
    public void Nop_CompletesWithItsUserData()
    {
        using var ring = CreateRing();
        Nop(ring, 0xfeed);

        Assert.Equal(1, ring.Enter(1, Second));

        Assert.True(ring.TryReap(out var cqe));
        Assert.Equal(0xfeedUL, cqe.UserData);
        Assert.Equal(0, cqe.Res);
        Assert.False(ring.TryReap(out _));
    }

    [UringFact]
    public void SubmissionQueueFull_NoSqeUntilSubmitted_ThenEveryOperationCompletes()
    {
        using var ring = CreateRing(entries: 8, cqEntries: 64);
        for (ulong i = 0; i < ring.SqEntries; i++) Nop(ring, i);

        Assert.True(ring.TryGetSqe() == null, "the SQ is full");
        Assert.Equal((int)ring.SqEntries, ring.Enter(0));
        Nop(ring, ring.SqEntries); // a slot is free again once the kernel consumed the batch
        ring.Enter(ring.SqEntries + 1, Second);

        var seen = new HashSet<ulong>();
        while (ring.TryReap(out var cqe)) seen.Add(cqe.UserData);
        Assert.Equal(Enumerable.Range(0, (int)ring.SqEntries + 1).Select(i => (ulong)i).ToHashSet(), seen);
    }

    [UringFact]
    public void CompletionQueueOverflow_NoDrop_EveryCompletionArrivesOnce()
    {
        using var ring = CreateRing(entries: 8, cqEntries: 16);
        Assert.True((ring.Features & UringConstants.FeatNoDrop) != 0, "IORING_FEAT_NODROP");
        const int Total = 200; // 12× the CQ: most completions must wait in the kernel's overflow list
        for (var i = 0; i < Total; i++)
        {
            if (ring.TryGetSqe() is var sqe && sqe == null)
            {
                var rc = ring.Enter(0);
                Assert.True(rc >= 0 || rc == -UringSyscalls.EBUSY, $"submit: errno {-rc}");
                sqe = ring.TryGetSqe();
                if (sqe == null) { i--; continue; }
            }
            sqe->Opcode = UringConstants.OpNop;
            sqe->UserData = (ulong)i;
        }
        ring.Enter(0);
        Assert.True(ring.CqOverflowPending || ring.CompletionsReady == ring.CqEntries, "the CQ overflowed");

        var seen = new List<ulong>();
        for (var spins = 0; seen.Count < Total && spins < 1000; spins++)
        {
            while (ring.TryReap(out var cqe)) seen.Add(cqe.UserData);
            if (seen.Count < Total) ring.Enter(1, Second / 10); // flushes parked completions into the CQ
        }

        Assert.Equal(Total, seen.Count);
        Assert.Equal(Enumerable.Range(0, Total).Select(i => (ulong)i), seen.Order());
        Assert.Equal(0u, ring.CqDropped);
    }

    [UringFact]
    public void ProvidedBuffersExhausted_ReceiveEndsWithEnobufs_BytesWaitInTheSocket_NothingLost()
    {
        using var ring = CreateRing(entries: 8, cqEntries: 64);
        using var buffers = new ProvidedBufferRing(ring, groupId: 7, count: 2, bufferSize: 16);
        using var pair = SocketPair.Create();
        var sent = Encoding.ASCII.GetBytes("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?"); // 64 bytes
        pair.Write(sent);

        var received = new List<byte>();
        var enobufs = 0;
        var held = new List<ushort>();
        ArmMultishotReceive(ring, pair.Local, buffers.GroupId, userData: 1);
        for (var spins = 0; received.Count < sent.Length && spins < 100; spins++)
        {
            ring.Enter(1, Second);
            var rearm = false;
            while (ring.TryReap(out var cqe))
            {
                if (cqe.Res > 0)
                {
                    var bid = (ushort)(cqe.Flags >> UringConstants.CqeBufferShift);
                    buffers.Taken(bid);
                    received.AddRange(new ReadOnlySpan<byte>(buffers.Address(bid), cqe.Res).ToArray());
                    held.Add(bid); // the consumer holds its buffers for a while: the ring runs dry
                }
                else
                {
                    Assert.Equal(-UringSyscalls.ENOBUFS, cqe.Res);
                    enobufs++;
                }
                if ((cqe.Flags & UringConstants.CqeFMore) == 0) rearm = true;
            }
            if (rearm)
            {
                foreach (var bid in held) buffers.Recycle(bid);
                held.Clear();
                ArmMultishotReceive(ring, pair.Local, buffers.GroupId, userData: 1);
            }
        }

        Assert.True(enobufs > 0, "the receive ran out of buffers at least once");
        Assert.Equal(sent, received.ToArray());
        CancelAndDrain(ring, userData: 1);
    }

    [UringFact]
    public void CancelInFlightReceive_CompletesWithEcanceled_AndLeavesTheBytesUnread()
    {
        using var ring = CreateRing();
        using var buffers = new ProvidedBufferRing(ring, groupId: 1, count: 4, bufferSize: 64);
        using var pair = SocketPair.Create();
        ArmMultishotReceive(ring, pair.Local, buffers.GroupId, userData: 5);
        ring.Enter(0);

        var cancel = ring.TryGetSqe();
        cancel->Opcode = UringConstants.OpAsyncCancel;
        cancel->Addr = 5;
        cancel->UserData = 6;
        ring.Enter(2, Second);

        var results = new Dictionary<ulong, int>();
        while (ring.TryReap(out var cqe)) results[cqe.UserData] = cqe.Res;
        Assert.Equal(-UringSyscalls.ECANCELED, results[5]);
        Assert.Equal(0, results[6]);
        pair.Write("after"u8.ToArray());
        Assert.Equal("after", pair.ReadLocal(16)); // the cancelled receive took nothing
    }

    [UringFact]
    public void Teardown_WithReceivesInFlight_KernelCancelsThem_SocketsStayIntact()
    {
        var pairs = Enumerable.Range(0, 64).Select(_ => SocketPair.Create()).ToList();
        try
        {
            var ring = CreateRing(entries: 64, cqEntries: 128);
            var scratch = (byte*)NativeMemory.Alloc(64 * 16);
            try
            {
                for (var i = 0; i < pairs.Count; i++)
                {
                    var sqe = ring.TryGetSqe();
                    sqe->Opcode = UringConstants.OpRecv;
                    sqe->Fd = pairs[i].Local;
                    sqe->Addr = (ulong)(scratch + i * 16);
                    sqe->Len = 16;
                    sqe->UserData = (ulong)i;
                }
                Assert.Equal(64, ring.Enter(0));
                ring.Dispose(); // closing the ring cancels what is in flight
            }
            finally
            {
                // Only after the ring is gone may the receive memory go; the kernel finishes its cancellations first.
                Thread.Sleep(50);
                NativeMemory.Free(scratch);
            }
            foreach (var pair in pairs)
            {
                pair.Write("x"u8.ToArray());
                Assert.Equal("x", pair.ReadLocal(4));
            }
        }
        finally
        {
            foreach (var pair in pairs) pair.Dispose();
        }
    }

    [UringFact]
    public void SignalDuringWait_EnterAnswersEintr_AndTheRingKeepsWorking()
    {
        using var ring = CreateRing();
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c => c.Cancel = true);
        var self = pthread_self();
        using var signaller = new Timer(_ => _ = pthread_kill(self, 28 /* SIGWINCH */), null, 200, Timeout.Infinite);

        var rc = ring.Enter(1, 5 * Second); // nothing will complete: only the signal ends this wait early

        Assert.Equal(-UringSyscalls.EINTR, rc);
        Nop(ring, 9);
        ring.Enter(1, Second);
        Assert.True(ring.TryReap(out var cqe));
        Assert.Equal(9ul, cqe.UserData);
    }

    private static void ArmMultishotReceive(IoUring ring, int fd, ushort group, ulong userData)
    {
        var sqe = ring.TryGetSqe();
        sqe->Opcode = UringConstants.OpRecv;
        sqe->Fd = fd;
        sqe->Flags = UringConstants.SqeBufferSelect;
        sqe->BufGroup = group;
        sqe->IoPrio = UringConstants.RecvMultishot;
        sqe->UserData = userData;
    }

    private static void CancelAndDrain(IoUring ring, ulong userData)
    {
        var sqe = ring.TryGetSqe();
        sqe->Opcode = UringConstants.OpAsyncCancel;
        sqe->Addr = userData;
        sqe->UserData = ulong.MaxValue;
        ring.Enter(1, Second);
        while (ring.TryReap(out _)) { }
    }

    [LibraryImport("libc")]
    private static partial nuint pthread_self();

    [LibraryImport("libc")]
    private static partial int pthread_kill(nuint thread, int signal);
}
