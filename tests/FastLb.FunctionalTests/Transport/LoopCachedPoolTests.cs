using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Microsoft.Extensions.ObjectPool;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// <see cref="LoopCachedPool{T}"/>: an object returned on an event loop is reused by that loop; other threads, and a
/// loop whose cache is full, use the shared pool.
/// </summary>
public sealed class LoopCachedPoolTests
{
    [Fact]
    public async Task ObjectReturnedOnALoop_IsReusedByThatLoop_NotByOtherThreads()
    {
        using var pair = await EpollPair.StartAsync();
        var pool = new LoopCachedPool<Item>(new DefaultObjectPool<Item>(new DefaultPooledObjectPolicy<Item>()), TestLoops.Shared);
        Item? first = null, again = null;
        await pair.RunOnLoopAsync(() =>
        {
            first = pool.Get();
            pool.Return(first);
        });

        var elsewhere = pool.Get(); // a test thread: the shared pool, which never saw the loop's object
        Assert.NotSame(first, elsewhere);
        await pair.RunOnLoopAsync(() => again = pool.Get());
        Assert.Same(first, again);
    }

    [Fact]
    public async Task FullLoopCache_ReturnsTheRestToTheSharedPool()
    {
        using var pair = await EpollPair.StartAsync();
        var shared = new DefaultObjectPool<Item>(new DefaultPooledObjectPolicy<Item>());
        var pool = new LoopCachedPool<Item>(shared, TestLoops.Shared, perLoop: 2);
        var items = new List<Item>();
        await pair.RunOnLoopAsync(() =>
        {
            for (var i = 0; i < 3; i++) items.Add(pool.Get());
            foreach (var item in items) pool.Return(item);
        });

        Assert.Same(items[2], shared.Get()); // the third did not fit the loop's cache of 2
    }

    public sealed class Item;
}
