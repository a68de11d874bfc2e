using System.Buffers;

namespace FastLb.Proxy.Transport;

/// <summary>One pooled block of bytes waiting to be sent by a <see cref="SocketWriter"/>.</summary>
internal sealed class SendSegment
{
    public static SendSegment Rent() => ThreadLocalFreeList<SendSegment>.Rent();

    /// <summary>Gives the block back to its pool and keeps the segment object for reuse on this thread.</summary>
    public void Return()
    {
        Release();
        ThreadLocalFreeList<SendSegment>.Return(this);
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
