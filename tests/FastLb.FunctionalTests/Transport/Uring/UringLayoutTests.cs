using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastLb.Proxy.Transport.Uring;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>Every io_uring struct the transport shares with the kernel has the kernel UAPI's size and field offsets.</summary>
public sealed class UringLayoutTests
{
    [Fact]
    public void Sizes_MatchTheKernelUapi()
    {
        Assert.Equal(120, Unsafe.SizeOf<IoUringParams>());
        Assert.Equal(40, Unsafe.SizeOf<IoSqringOffsets>());
        Assert.Equal(40, Unsafe.SizeOf<IoCqringOffsets>());
        Assert.Equal(64, Unsafe.SizeOf<IoUringSqe>());
        Assert.Equal(16, Unsafe.SizeOf<IoUringCqe>());
        Assert.Equal(16, Unsafe.SizeOf<IoUringBuf>());
        Assert.Equal(40, Unsafe.SizeOf<IoUringBufReg>());
        Assert.Equal(24, Unsafe.SizeOf<IoUringGeteventsArg>());
        Assert.Equal(16, Unsafe.SizeOf<KernelTimespec>());
        Assert.Equal(8, Unsafe.SizeOf<IoUringProbeOp>());
        Assert.Equal(16, Unsafe.SizeOf<IoUringRsrcUpdate>());
    }

    [Fact]
    public void FieldOffsets_MatchTheKernelUapi()
    {
        Assert.Equal(0, Offset<IoUringSqe>(nameof(IoUringSqe.Opcode)));
        Assert.Equal(1, Offset<IoUringSqe>(nameof(IoUringSqe.Flags)));
        Assert.Equal(2, Offset<IoUringSqe>(nameof(IoUringSqe.IoPrio)));
        Assert.Equal(4, Offset<IoUringSqe>(nameof(IoUringSqe.Fd)));
        Assert.Equal(8, Offset<IoUringSqe>(nameof(IoUringSqe.Off)));
        Assert.Equal(16, Offset<IoUringSqe>(nameof(IoUringSqe.Addr)));
        Assert.Equal(24, Offset<IoUringSqe>(nameof(IoUringSqe.Len)));
        Assert.Equal(28, Offset<IoUringSqe>(nameof(IoUringSqe.OpFlags)));
        Assert.Equal(32, Offset<IoUringSqe>(nameof(IoUringSqe.UserData)));
        Assert.Equal(40, Offset<IoUringSqe>(nameof(IoUringSqe.BufGroup)));
        Assert.Equal(42, Offset<IoUringSqe>(nameof(IoUringSqe.Personality)));
        Assert.Equal(44, Offset<IoUringSqe>(nameof(IoUringSqe.SpliceFdIn)));
        Assert.Equal(48, Offset<IoUringSqe>(nameof(IoUringSqe.Addr3)));

        Assert.Equal(8, Offset<IoUringCqe>(nameof(IoUringCqe.Res)));
        Assert.Equal(12, Offset<IoUringCqe>(nameof(IoUringCqe.Flags)));

        Assert.Equal(20, Offset<IoUringParams>(nameof(IoUringParams.Features)));
        Assert.Equal(40, Offset<IoUringParams>(nameof(IoUringParams.SqOff)));
        Assert.Equal(80, Offset<IoUringParams>(nameof(IoUringParams.CqOff)));
        Assert.Equal(24, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Array)));
        Assert.Equal(20, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Cqes)));

        Assert.Equal(8, Offset<IoUringBuf>(nameof(IoUringBuf.Len)));
        Assert.Equal(12, Offset<IoUringBuf>(nameof(IoUringBuf.Bid)));
        Assert.Equal(14, Offset<IoUringBuf>(nameof(IoUringBuf.Resv))); // the ring's tail lives here in entry 0
        Assert.Equal(12, Offset<IoUringBufReg>(nameof(IoUringBufReg.Bgid)));
        Assert.Equal(16, Offset<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.Ts)));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
