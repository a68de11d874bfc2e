using System.Buffers;

namespace FastLb.Proxy.Transport;

/// <summary>One pooled block of received bytes in a <see cref="SocketReader"/>'s buffer chain.</summary>
internal sealed class ReceiveSegment : ReadOnlySequenceSegment<byte>
{
    public static ReceiveSegment Rent() => ThreadLocalFreeList<ReceiveSegment>.Rent();

    /// <summary>Gives the block back to its pool and keeps the segment object for reuse on this thread.</summary>
    public void Return()
    {
        Release();
        ThreadLocalFreeList<ReceiveSegment>.Return(this);
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

    /// <summary>Places a segment filled elsewhere (by the ring's receive) at <paramref name="runningIndex"/> of a reader's chain.</summary>
    public void Place(long runningIndex) => RunningIndex = runningIndex;

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
