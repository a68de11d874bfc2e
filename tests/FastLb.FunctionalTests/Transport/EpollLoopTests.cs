using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary><see cref="EpollLoop.Post"/>: work handed to a loop runs once, on that loop's thread, whether it sleeps or not.</summary>
public sealed class EpollLoopTests
{
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    [Fact]
    public async Task Post_ToASleepingLoop_RunsOnItsThread()
    {
        var loop = TestLoops.Shared[1];
        await Task.Delay(50); // nothing else for that loop in this test: it is (most likely) blocked in epoll_wait
        var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        loop.Post(new WorkItem(() => ran.SetResult(EpollLoop.CurrentId)));

        Assert.Equal(loop.Id, await ran.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Post_FromTwoThreadsAtOnce_RunsEveryItemExactlyOnce()
    {
        const int PerThread = 2000;
        var loop = TestLoops.Shared[0];
        var runs = new int[2 * PerThread];
        var offLoop = 0;
        var remaining = runs.Length;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var posters = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                var index = t * PerThread + i;
                loop.Post(new WorkItem(() =>
                {
                    if (EpollLoop.CurrentId != loop.Id) Interlocked.Increment(ref offLoop);
                    Interlocked.Increment(ref runs[index]);
                    if (Interlocked.Decrement(ref remaining) == 0) done.SetResult();
                }));
            }
        })).ToArray();
        await Task.WhenAll(posters).WaitAsync(Timeout);
        await done.Task.WaitAsync(Timeout);

        Assert.All(runs, n => Assert.Equal(1, n));
        Assert.Equal(0, offLoop);
    }

    private sealed class WorkItem(Action action) : IThreadPoolWorkItem
    {
        public void Execute() => action();
    }
}
