using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using Xunit;

namespace FastLb.Tests.Traffic;

/// <summary>
/// The drain deadline (<see cref="TrafficController.Tick"/>): one walk of the open connections per tick for every
/// drain past its deadline, outside the controller's lock, and each cut connection counted once.
/// </summary>
public sealed class DrainTickTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));
    private readonly Router _router = new();
    private readonly TrafficController _controller;
    private readonly CountingDirectory _connections = new();

    public DrainTickTests()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.None;
        _controller = new TrafficController(_router, new BackendStateRegistry(), _time) { Connections = _connections };
        _controller.Load(TestConfigs.Web(TestConfigs.Blue, drainTimeout: TimeSpan.FromSeconds(30)));
    }

    private BackendState Blue(int i) => _router.Current.FindService("web")!.FindPool("blue")!.Backends[i].State;

    [Fact]
    public void Tick_AbortNotYetReleased_CountedOnceAndNotAbortedAgain()
    {
        var slow = _connections.Open(Blue(0)); // its abort takes effect later, as a real socket's may

        _controller.Swap("web", "green");
        _time.Advance(TimeSpan.FromSeconds(31));
        for (var i = 0; i < 5; i++) _controller.Tick();

        var drain = Assert.Single(_controller.Drains);
        Assert.Equal(1, drain.Aborted);
        Assert.Equal(1, slow.AbortCalls);
        Assert.Equal(1, drain.Live);

        slow.Release();
        _controller.Tick();
        Assert.NotNull(drain.DrainedAt);
        Assert.Equal(1, drain.Aborted);
    }

    [Fact]
    public void Tick_TwoDrainsPastDeadline_WalksTheConnectionsOnce()
    {
        var onFirst = _connections.Open(Blue(0));
        var onSecond = _connections.Open(Blue(1));
        _controller.Drain("web", "blue", "10.0.0.1:80"); // a backend drain...
        _controller.Swap("web", "green");                // ...and then its whole pool
        Assert.Equal(2, _controller.Drains.Count);
        _time.Advance(TimeSpan.FromSeconds(31));

        _connections.Walks = 0;
        _controller.Tick();

        Assert.Equal(1, _connections.Walks);
        Assert.Equal(1, onFirst.AbortCalls);
        Assert.Equal(1, onSecond.AbortCalls);
        Assert.Equal(2, _controller.Drains.Sum(d => d.Aborted)); // each connection counted by one drain only
    }

    [Fact]
    public void Tick_BackendDrainPastDeadline_CutsOnlyConnectionsStillOnThatBackend()
    {
        var open = _connections.Open(Blue(0));
        var closed = _connections.Open(Blue(0));
        var elsewhere = _connections.Open(Blue(1));
        closed.Release();
        _controller.Drain("web", "blue", "10.0.0.1:80");
        _time.Advance(TimeSpan.FromSeconds(31));

        _controller.Tick();

        Assert.Equal(1, open.AbortCalls);
        Assert.Equal(0, closed.AbortCalls);
        Assert.Equal(0, elsewhere.AbortCalls);
        Assert.Equal(1, Blue(0).Traffic.Total(TrafficField.DrainCuts));
        Assert.Equal(0, Blue(1).Traffic.Total(TrafficField.DrainCuts));
    }

    [Fact]
    public void Tick_TunnelCountedTwice_CutOnceOnTheBackendItStartedOn()
    {
        var tunnel = _connections.Open(Blue(0));
        Blue(0).Acquire(tunnel); // a tunnel after its upgrade request counts again, still marked on its first backend
        _controller.Drain("web", "blue", "10.0.0.1:80");
        _time.Advance(TimeSpan.FromSeconds(31));

        _controller.Tick();

        Assert.Equal(1, tunnel.AbortCalls);
        Assert.Equal(1, Blue(0).Traffic.Total(TrafficField.DrainCuts));
    }

    [Fact]
    public void Tick_BeforeTheDeadline_DoesNotWalkTheConnections()
    {
        _connections.Open(Blue(0));
        _controller.Swap("web", "green");
        _time.Advance(TimeSpan.FromSeconds(10));

        _controller.Tick();

        Assert.Equal(0, _connections.Walks);
    }

    [Fact]
    public void Tick_WalksOutsideTheLock_ACommandDuringTheWalkIsNotHeldUp()
    {
        _connections.Open(Blue(0));
        _controller.Swap("web", "green");
        _time.Advance(TimeSpan.FromSeconds(31));
        var commandFinished = false;
        _connections.DuringWalk = () =>
        {
            // Another thread (the control socket) runs a command while the tick walks the connections.
            commandFinished = Task.Run(() => _controller.Drains.Count).Wait(TimeSpan.FromSeconds(5));
        };

        _controller.Tick();

        Assert.True(commandFinished, "a command waited for the drain walk");
    }

    /// <summary>A connection whose abort does not release it at once (the socket closes on its loop later).</summary>
    private sealed class SlowConnection(BackendState state) : IDrainable
    {
        private DrainLink _drainLink;

        public ref DrainLink DrainLink => ref _drainLink;

        public int AbortCalls { get; private set; }

        public void Abort() => AbortCalls++;

        public void Release() => state.Release(this);
    }

    private sealed class CountingDirectory : IConnectionDirectory
    {
        private readonly List<SlowConnection> _open = [];

        public int Walks { get; set; }

        public Action? DuringWalk { get; set; }

        public IEnumerable<IDrainable> Connections
        {
            get
            {
                Walks++;
                DuringWalk?.Invoke();
                foreach (var c in _open) yield return c;
            }
        }

        public SlowConnection Open(BackendState state)
        {
            var c = new SlowConnection(state);
            state.Acquire(c);
            _open.Add(c);
            return c;
        }
    }
}
