using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary>
/// <c>struct io_uring_buf</c>: one entry of a provided-buffer ring, 16 bytes. The ring's tail is the <c>resv</c>
/// field of entry 0 (the kernel overlays it), which is why <see cref="Resv"/> is never written per entry.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct IoUringBuf
{
    public ulong Addr;
    public uint Len;
    public ushort Bid;
    public ushort Resv;
}
