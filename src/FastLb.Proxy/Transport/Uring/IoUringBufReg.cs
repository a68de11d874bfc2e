using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_buf_reg</c>: IORING_REGISTER_PBUF_RING's argument, 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
internal struct IoUringBufReg
{
    public ulong RingAddr;
    public uint RingEntries;
    public ushort Bgid;
    public ushort Flags;
    public ulong Resv0;
    public ulong Resv1;
    public ulong Resv2;
}
