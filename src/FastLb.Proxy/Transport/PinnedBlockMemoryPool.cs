using System.Buffers;
using System.Collections.Concurrent;

namespace FastLb.Proxy.Transport;

/// <summary>Fixed-size pinned blocks reused through a lock-free queue; renting a warm block allocates nothing.</summary>
/// <remarks>
/// Blocks live on the pinned object heap, so sockets never pin per operation and the GC never moves them.
/// The pool keeps at most <c>maxRetained</c> idle blocks; returns beyond that fall to the GC so a burst
/// does not hold memory forever.
/// </remarks>
internal sealed class PinnedBlockMemoryPool(int blockSize = PinnedBlockMemoryPool.DefaultBlockSize, int maxRetained = 4096) : MemoryPool<byte>
{
    public const int DefaultBlockSize = 16 * 1024;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _retained;
    private int _rented;
    private volatile bool _disposed;

    public override int MaxBufferSize { get; } = blockSize;

    /// <summary>Blocks currently out of the pool (tests check that a closed connection gave everything back).</summary>
    public int Rented => Volatile.Read(ref _rented);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > MaxBufferSize) ThrowTooLarge(minBufferSize, MaxBufferSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _retained);
        }
        else
        {
            block = new Block(this, GC.AllocateUninitializedArray<byte>(MaxBufferSize, pinned: true));
        }
        Interlocked.Increment(ref _rented);
        block.Rented = true;
        return block;
    }

    private void Return(Block block)
    {
        Interlocked.Decrement(ref _rented);
        if (_disposed) return;
        // Approximate cap: a racing pair may overshoot by one block, which is harmless.
        if (Interlocked.Increment(ref _retained) > maxRetained)
        {
            Interlocked.Decrement(ref _retained);
            return;
        }
        _free.Enqueue(block);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        while (_free.TryDequeue(out _)) { }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooLarge(int requested, int max) =>
        throw new ArgumentOutOfRangeException(nameof(requested), $"requested {requested} bytes; blocks are {max} bytes");

    private sealed class Block(PinnedBlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public bool Rented;

        public Memory<byte> Memory { get; } = array;

        public void Dispose()
        {
            // Pipe returns each segment once; the flag keeps a stray double-dispose from queuing the block twice.
            if (!Rented) return;
            Rented = false;
            pool.Return(this);
        }
    }
}
