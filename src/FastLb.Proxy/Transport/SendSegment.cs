using System.Buffers;

namespace FastLb.Proxy.Transport;

/// <summary>One pooled block of bytes waiting to be sent by a <see cref="SocketWriter"/>.</summary>
internal sealed class SendSegment
{

    // Free segment objects kept per thread, so a connection holds none while idle and a request allocates none.
    [ThreadStatic]
    private static SendSegment?[]? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    public static SendSegment Rent()
    {
        var free = t_free;
        if (free is null || t_freeCount == 0) return new SendSegment();
        var segment = free[--t_freeCount]!;
        free[t_freeCount] = null;
        return segment;
    }

    /// <summary>Gives the block back to its pool and keeps the segment object for reuse on this thread.</summary>
    public void Return()
    {
        Release();
        var free = t_free ??= new SendSegment?[32];
        if (t_freeCount < free.Length) free[t_freeCount++] = this;
    }

    private IMemoryOwner<byte>? _owner;

    public Memory<byte> Block { get; private set; }

    /// <summary>Bytes already handed to the kernel.</summary>
    public int Start { get; set; }

    /// <summary>Bytes written into the block.</summary>
    public int End { get; set; }

    public SendSegment? Next { get; set; }

    public void Attach(IMemoryOwner<byte> owner)
    {
        _owner = owner;
        Block = owner.Memory;
        Start = 0;
        End = 0;
        Next = null;
    }

    private void Release()
    {
        _owner?.Dispose();
        _owner = null;
        Block = default;
        Start = End = 0;
        Next = null;
    }
}
