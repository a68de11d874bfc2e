using System.Buffers;
using System.Collections.Concurrent;

namespace FastLb.Proxy.Transport;

/// <summary>Fixed-size pinned blocks, kept per event loop and in a shared lock-free queue; renting a warm block allocates nothing.</summary>
/// <remarks>
/// <para>
/// Blocks live on the pinned object heap, so sockets never pin per operation and the GC never moves them.
/// </para>
/// <para>
/// Each event loop keeps up to <see cref="LoopCacheCapacity"/> free blocks of its own, touched only by its thread: a
/// request rents and returns about four blocks, and with one shared queue and shared counters those were some twenty
/// atomic operations on cache lines that bounced between the loops' cores (3.8% of FastLb's CPU at 2 workers,
/// perf-results/2026-11-26-loop-balance.md). Other threads, and a loop whose cache is empty or full, use the shared
/// queue, which keeps at most <c>maxRetained</c> idle blocks; returns beyond that fall to the GC so a burst does not
/// hold memory forever.
/// </para>
/// </remarks>
internal sealed class PinnedBlockMemoryPool : MemoryPool<byte>
{
    public const int DefaultBlockSize = 16 * 1024;

    /// <summary>Free blocks one event loop keeps for itself.</summary>
    public const int LoopCacheCapacity = 16;

    // Loop i's free blocks are _loopBlocks[(i + 1) * SlotStride ..][..LoopCacheCapacity]; its counters are
    // _loopCells[(i + 1) * CellStride] (free blocks held) and the next cell (blocks rented minus returned by it).
    // The strides keep each loop's slots and counters 128 bytes away from every other loop's.
    private const int SlotStride = LoopCacheCapacity + 16;
    private const int CellStride = 16;

    private readonly int _maxRetained;
    private readonly ConcurrentQueue<Block> _free = new();
    private readonly int _loops;
    private readonly Block?[] _loopBlocks;
    private readonly long[] _loopCells;
    private int _retained;
    private int _sharedRented;
    private volatile bool _disposed;

    /// <param name="blockSize">Bytes per block.</param>
    /// <param name="maxRetained">Idle blocks the shared queue keeps at most.</param>
    /// <param name="loops">Event loops that get a cache of their own (loop ids from 0); others use the shared queue.</param>
    public PinnedBlockMemoryPool(int blockSize = DefaultBlockSize, int maxRetained = 4096, int loops = -1)
    {
        MaxBufferSize = blockSize;
        _maxRetained = maxRetained;
        _loops = loops < 0 ? EventLoops.Count : loops;
        _loopBlocks = new Block?[(_loops + 1) * SlotStride];
        _loopCells = new long[(_loops + 1) * CellStride + 2];
    }

    public override int MaxBufferSize { get; }

    /// <summary>Blocks currently out of the pool (tests check that a closed connection gave everything back).</summary>
    public int Rented
    {
        get
        {
            long rented = Volatile.Read(ref _sharedRented);
            for (var i = 0; i < _loops; i++) rented += Volatile.Read(ref _loopCells[(i + 1) * CellStride + 1]);
            return (int)rented;
        }
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > MaxBufferSize) ThrowTooLarge(minBufferSize, MaxBufferSize);
        Block block;
        var loop = EpollLoop.CurrentId;
        if ((uint)loop < (uint)_loops)
        {
            // This loop's thread is the only one that writes its cells and slots: plain reads and writes.
            var cell = (loop + 1) * CellStride;
            Volatile.Write(ref _loopCells[cell + 1], _loopCells[cell + 1] + 1);
            var held = (int)_loopCells[cell];
            if (held > 0)
            {
                var slot = (loop + 1) * SlotStride + held - 1;
                block = _loopBlocks[slot]!;
                _loopBlocks[slot] = null;
                _loopCells[cell] = held - 1;
            }
            else
            {
                block = RentShared();
            }
        }
        else
        {
            Interlocked.Increment(ref _sharedRented);
            block = RentShared();
        }
        block.Rented = true;
        return block;
    }

    private Block RentShared()
    {
        if (!_free.TryDequeue(out var block)) return new Block(this, GC.AllocateUninitializedArray<byte>(MaxBufferSize, pinned: true));
        Interlocked.Decrement(ref _retained);
        return block;
    }

    private void Return(Block block)
    {
        var loop = EpollLoop.CurrentId;
        if ((uint)loop < (uint)_loops)
        {
            var cell = (loop + 1) * CellStride;
            Volatile.Write(ref _loopCells[cell + 1], _loopCells[cell + 1] - 1); // may go below 0: rented on another thread
            if (_disposed) return;
            var held = (int)_loopCells[cell];
            if (held < LoopCacheCapacity)
            {
                _loopBlocks[(loop + 1) * SlotStride + held] = block;
                _loopCells[cell] = held + 1;
                return;
            }
        }
        else
        {
            Interlocked.Decrement(ref _sharedRented);
            if (_disposed) return;
        }
        // Approximate cap: a racing pair may overshoot by one block, which is harmless.
        if (Interlocked.Increment(ref _retained) > _maxRetained)
        {
            Interlocked.Decrement(ref _retained);
            return;
        }
        _free.Enqueue(block);
    }

    protected override void Dispose(bool disposing)
    {
        // The loops' own caches are left to the GC with the pool: only their threads may touch them.
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
