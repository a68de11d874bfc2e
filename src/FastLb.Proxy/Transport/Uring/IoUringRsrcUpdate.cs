using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_rsrc_update</c>: the argument of IORING_REGISTER_FILES_UPDATE and IORING_(UN)REGISTER_RING_FDS, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct IoUringRsrcUpdate
{
    public uint Offset;
    public uint Resv;
    /// <summary>Address of an <c>int[]</c> of fds (-1 clears a slot); for ring fds, the ring's fd itself.</summary>
    public ulong Data;
}
