using System.Buffers;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// The block pool's per-loop caches: a block freed on an event loop is reused by that loop without the shared queue,
/// the rented count stays exact whichever threads rent and return, and a full cache spills to the shared queue.
/// </summary>
public sealed class PinnedBlockMemoryPoolTests
{

    [Fact]
    public async Task BlockReturnedOnALoop_IsRentedAgainByThatLoop_NotByOtherThreads()
    {
        using var pair = await EpollPair.StartAsync();
        using var pool = new PinnedBlockMemoryPool(1024, loops: TestLoops.Shared);
        IMemoryOwner<byte>? first = null, again = null;
        await pair.RunOnLoopAsync(() =>
        {
            first = pool.Rent();
            first.Dispose();
        });
        var elsewhere = pool.Rent(); // a test thread: the shared queue, which is empty
        Assert.NotSame(first, elsewhere);
        await pair.RunOnLoopAsync(() => again = pool.Rent());
        Assert.Same(first, again);
        Assert.Equal(2, pool.Rented);
        again!.Dispose();
        elsewhere.Dispose();
        Assert.Equal(0, pool.Rented);
    }

    [Fact]
    public async Task Rented_StaysExact_WhenBlocksAreReturnedOnAnotherThread()
    {
        using var pair = await EpollPair.StartAsync();
        using var pool = new PinnedBlockMemoryPool(1024, loops: TestLoops.Shared);
        IMemoryOwner<byte>? onLoop = null;
        await pair.RunOnLoopAsync(() => onLoop = pool.Rent());
        var onTestThread = pool.Rent();
        Assert.Equal(2, pool.Rented);

        onLoop!.Dispose(); // rented by the loop, returned here
        Assert.Equal(1, pool.Rented);
        await pair.RunOnLoopAsync(onTestThread.Dispose); // rented here, returned by the loop
        Assert.Equal(0, pool.Rented);
    }

    [Fact]
    public async Task FullLoopCache_SpillsToTheSharedQueue()
    {
        using var pair = await EpollPair.StartAsync();
        using var pool = new PinnedBlockMemoryPool(1024, loops: TestLoops.Shared);
        var blocks = new List<IMemoryOwner<byte>>();
        await pair.RunOnLoopAsync(() =>
        {
            for (var i = 0; i < PinnedBlockMemoryPool.LoopCacheCapacity + 3; i++) blocks.Add(pool.Rent());
            foreach (var block in blocks) block.Dispose();
        });
        Assert.Equal(0, pool.Rented);
        var spilled = blocks[PinnedBlockMemoryPool.LoopCacheCapacity..];
        for (var i = 0; i < spilled.Count; i++)
        {
            var block = pool.Rent(); // a test thread: only the shared queue can have blocks for it
            Assert.Contains(block, spilled);
            block.Dispose();
        }
    }
}
