using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_probe_op</c>, 8 bytes; <c>struct io_uring_probe</c> is a 16-byte header followed by these.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
internal struct IoUringProbeOp
{
    public byte Op;
    public byte Resv;
    public ushort Flags;
    public uint Resv2;
}
