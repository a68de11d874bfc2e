using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// A server owns its event loops: stopping it ends their threads and closes their epoll (or io_uring) and wake-up fds, so tests
/// (and a host) can create and tear down servers without leaking either. Counts are process-wide, so this class runs
/// alone (<see cref="ProcessWideCountsCollection"/>).
/// </summary>
[Collection(ProcessWideCountsCollection.Name)]
public sealed class EventLoopsLifetimeTests
{
    [Fact]
    public async Task Dispose_StopsEveryLoopThread_AndClosesItsFds()
    {
        var before = Snapshot();
        var loops = new EventLoops(3);
        await Poll.UntilAsync(() => Snapshot().LoopThreads >= before.LoopThreads + 3, $"three loops run (before {before}, now {Snapshot()})");
        Assert.True(Snapshot().LoopFds >= before.LoopFds + 3);

        loops.Dispose();
        loops.Dispose(); // idempotent

        await Poll.UntilAsync(() => NoMoreThan(before), $"the loops are gone (before {before}, now {Snapshot()})");
    }

    [Fact]
    public async Task ServerStoppedAfterServing_LeavesNoLoopThreadOrEpollFdBehind()
    {
        await using var backend = RawHttpBackend.Start("a");
        await ServeOneRequestAsync(backend); // warms up what the process creates once (the .NET socket engine's epoll)
        var before = Snapshot();

        await ServeOneRequestAsync(backend);

        await Poll.UntilAsync(() => NoMoreThan(before), $"the server's loops are gone (before {before}, now {Snapshot()})");
    }

    private static async Task ServeOneRequestAsync(RawHttpBackend backend)
    {
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        Assert.True(lb.Server.Loops.Count >= 2);
        var response = await lb.SendOnceAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, response.Status);
    }

    /// <summary>Nothing left over: at most as many as before (a server another test stopped may still be winding down).</summary>
    private static bool NoMoreThan(Counts before)
    {
        var now = Snapshot();
        return now.LoopThreads <= before.LoopThreads && now.LoopFds <= before.LoopFds;
    }

    private static Counts Snapshot()
    {
        var threads = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("fastlb-loop-", StringComparison.Ordinal)) threads++;
            }
            catch (IOException)
            {
                // The thread exited while we looked.
            }
        }
        var epolls = 0;
        foreach (var fd in Directory.EnumerateFiles("/proc/self/fd"))
        {
            try
            {
                // An epoll loop holds an epoll fd, an io_uring loop a ring fd (the transport FASTLB_IO selected).
                if (new FileInfo(fd).LinkTarget is "anon_inode:[eventpoll]" or "anon_inode:[io_uring]") epolls++;
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return new Counts(threads, epolls);
    }

    private readonly record struct Counts(int LoopThreads, int LoopFds);
}

/// <summary>Tests that count process-wide resources (threads, fds): they run after the parallel tests, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideCountsCollection
{
    public const string Name = "process-wide counts";
}
