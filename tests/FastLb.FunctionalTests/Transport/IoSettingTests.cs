using FastLb.Core.Config;
using FastLb.FunctionalTests.Transport.Uring;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// <c>io: epoll | io_uring | auto</c>: a host without io_uring is simulated by a probe that refuses it, as
/// kernel.io_uring_disabled or a container's seccomp filter would.
/// </summary>
public sealed class IoSettingTests
{
    private const string Refused = "io_uring_setup failed: EPERM (io_uring disabled by kernel.io_uring_disabled or a seccomp filter)";

    [Fact]
    public void IoUring_WhereSetupFails_StartFailsSayingWhyAndWhatToSet()
    {
        var e = Assert.Throws<IoUnavailableException>(() => new EventLoops(1, io: IoMode.IoUring, probe: () => Refused));

        Assert.Equal($"io: io_uring cannot run on this host: {Refused}; set io: epoll, or io: auto to fall back to epoll", e.Message);
    }

    [Fact]
    public async Task Auto_WhereSetupFails_FallsBackToEpoll_SaysWhy_AndServes()
    {
        using var loops = new EventLoops(1, io: IoMode.Auto, probe: () => Refused);

        Assert.Equal("epoll", loops.Io.Name);
        Assert.False(loops[0].UsesRing);
        Assert.Equal($"io: auto chose epoll: io_uring unavailable ({Refused})", loops.Io.Reason);
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loops[0].Post(new LoopWork(ran.SetResult));
        await ran.Task.WaitAsync(EpollPair.Timeout);
    }

    [Fact]
    public void Epoll_IsTakenAsAsked_WithoutProbing()
    {
        using var loops = new EventLoops(1, io: IoMode.Epoll, probe: () => throw new InvalidOperationException("epoll must not probe"));

        Assert.Equal("epoll", loops.Io.Name);
        Assert.False(loops[0].UsesRing);
    }

    [UringFact]
    public void Auto_WhereIoUringRuns_ChoosesIoUring_SaysWhy()
    {
        // The measured answer (docs/architecture.md): io_uring beat epoll by the decision rule's margin.
        using var loops = new EventLoops(1, io: IoMode.Auto);

        Assert.Equal("io_uring", loops.Io.Name);
        Assert.True(loops[0].UsesRing);
        Assert.Equal("io: auto chose io_uring (available, and measured faster than epoll)", loops.Io.Reason);
    }

    [UringFact]
    public async Task IoUring_WhereAvailable_EveryLoopRunsItsOwnSingleIssuerRing_EnteredByRegisteredDescriptor_WithAFileTable()
    {
        using var loops = new EventLoops(2, io: IoMode.IoUring);

        Assert.Equal("io_uring", loops.Io.Name);
        foreach (var loop in loops.All.ToArray())
        {
            Assert.True(loop.UsesRing);
            Assert.NotEqual(0u, loop.RingSetupFlags & Proxy.Transport.Uring.UringConstants.SetupSingleIssuer);
            Assert.True(loop.RingFdRegistered, "the loop enters its ring by its descriptor, not a registered index");
            Assert.True(loop.FileTableSize > 0, "the loop registered no file table");
            var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            loop.Post(new LoopWork(() => ran.SetResult(EpollLoop.CurrentId)));
            Assert.Equal(loop.Id, await ran.Task.WaitAsync(EpollPair.Timeout));
        }
    }

    private sealed class LoopWork(Action action) : IThreadPoolWorkItem
    {
        public void Execute() => action();
    }
}
