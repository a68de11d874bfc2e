using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary><c>struct io_uring_sqe</c>: one submission queue entry, 64 bytes (the kernel UAPI layout, unions by offset).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    /// <summary><c>off</c> / <c>addr2</c>.</summary>
    [FieldOffset(8)] public ulong Off;
    /// <summary><c>addr</c> / <c>splice_off_in</c>.</summary>
    [FieldOffset(16)] public ulong Addr;
    [FieldOffset(24)] public uint Len;
    /// <summary>The per-opcode flags word: <c>msg_flags</c>, <c>accept_flags</c>, <c>cancel_flags</c>, <c>splice_flags</c>, <c>timeout_flags</c>...</summary>
    [FieldOffset(28)] public uint OpFlags;
    [FieldOffset(32)] public ulong UserData;
    /// <summary><c>buf_index</c> / <c>buf_group</c>.</summary>
    [FieldOffset(40)] public ushort BufGroup;
    [FieldOffset(42)] public ushort Personality;
    /// <summary><c>splice_fd_in</c> / <c>file_index</c>.</summary>
    [FieldOffset(44)] public int SpliceFdIn;
    [FieldOffset(48)] public ulong Addr3;
    [FieldOffset(56)] public ulong Pad2;
}
