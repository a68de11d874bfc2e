using System.Buffers;
using Microsoft.Extensions.ObjectPool;

namespace FastLb.Proxy.Transport;

/// <summary>Fixed-size pinned blocks, kept per event loop and in a shared pool; renting a warm block allocates nothing.</summary>
/// <remarks>
/// <para>
/// Blocks live on the pinned object heap, so sockets never pin per operation and the GC never moves them.
/// </para>
/// <para>
/// Each event loop keeps up to <see cref="LoopCacheCapacity"/> free blocks of its own (<see cref="LoopCachedPool{T}"/>):
/// a request rents and returns about four blocks, and with one shared queue and shared counters those were some
/// twenty atomic operations on cache lines that bounced between the loops' cores (3.8% of FastLb's CPU at 2 workers,
/// perf-results/2026-11-26-loop-balance.md). Other threads, and a loop whose cache is empty or full, use the shared
/// pool, which keeps at most <c>maxRetained</c> idle blocks; returns beyond that fall to the GC so a burst does not
/// hold memory forever.
/// </para>
/// </remarks>
internal sealed class PinnedBlockMemoryPool : MemoryPool<byte>
{
    public const int DefaultBlockSize = 16 * 1024;

    /// <summary>Free blocks one event loop keeps for itself.</summary>
    public const int LoopCacheCapacity = 16;

    private readonly LoopCachedPool<Block> _blocks;
    private volatile bool _disposed;

    /// <param name="blockSize">Bytes per block.</param>
    /// <param name="maxRetained">Idle blocks the shared pool keeps at most.</param>
    /// <param name="loops">The event loops that keep blocks of their own; null = every thread uses the shared pool.</param>
    public PinnedBlockMemoryPool(int blockSize = DefaultBlockSize, int maxRetained = 4096, EventLoops? loops = null)
    {
        MaxBufferSize = blockSize;
        _blocks = new LoopCachedPool<Block>(new DefaultObjectPool<Block>(new BlockPolicy(this), maxRetained), loops, LoopCacheCapacity);
    }

    public override int MaxBufferSize { get; }

    /// <summary>Blocks currently out of the pool (tests check that a closed connection gave everything back).</summary>
    public int Rented => _blocks.Rented;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > MaxBufferSize) ThrowTooLarge(minBufferSize, MaxBufferSize);
        var block = _blocks.Get();
        block.Rented = true;
        return block;
    }

    /// <summary>A block returned after <see cref="Dispose(bool)"/> is counted and left to the GC.</summary>
    private void Return(Block block) => _blocks.Return(block, keep: !_disposed);

    protected override void Dispose(bool disposing) => _disposed = true;

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooLarge(int requested, int max) =>
        throw new ArgumentOutOfRangeException(nameof(requested), $"requested {requested} bytes; blocks are {max} bytes");

    private sealed class BlockPolicy(PinnedBlockMemoryPool pool) : IPooledObjectPolicy<Block>
    {
        public Block Create() => new(pool, GC.AllocateUninitializedArray<byte>(pool.MaxBufferSize, pinned: true));

        public bool Return(Block block) => true;
    }

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
