using System.Buffers;

namespace FastLb.Proxy.Transport;

/// <summary>One pooled block of received bytes in a <see cref="SocketReader"/>'s buffer chain.</summary>
internal sealed class ReceiveSegment : ReadOnlySequenceSegment<byte>
{

    // Free segment objects kept per thread, so a connection holds none while idle and a request allocates none.
    [ThreadStatic]
    private static ReceiveSegment?[]? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    public static ReceiveSegment Rent()
    {
        var free = t_free;
        if (free is null || t_freeCount == 0) return new ReceiveSegment();
        var segment = free[--t_freeCount]!;
        free[t_freeCount] = null;
        return segment;
    }

    /// <summary>Gives the block back to its pool and keeps the segment object for reuse on this thread.</summary>
    public void Return()
    {
        Release();
        var free = t_free ??= new ReceiveSegment?[32];
        if (t_freeCount < free.Length) free[t_freeCount++] = this;
    }

    private IMemoryOwner<byte>? _owner;
    private Memory<byte> _block;

    /// <summary>Bytes received into the block so far (the segment's visible length).</summary>
    public int End { get; private set; }

    /// <summary>Room left in the block.</summary>
    public Memory<byte> Free => _block[End..];

    public void Attach(IMemoryOwner<byte> owner, long runningIndex)
    {
        _owner = owner;
        _block = owner.Memory;
        End = 0;
        Memory = default;
        Next = null;
        RunningIndex = runningIndex;
    }

    public void Grow(int received)
    {
        End += received;
        Memory = _block[..End];
    }

    public void Link(ReceiveSegment next) => Next = next;

    private void Release()
    {
        _owner?.Dispose();
        _owner = null;
        _block = default;
        Memory = default;
        Next = null;
        End = 0;
    }
}
