using System.Net;
using FastLb.Core.Routing;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Routing;

public class BackendStateTests
{
    private static BackendState NewState() => new("web", "blue", "127.0.0.1:80", new IPEndPoint(IPAddress.Loopback, 80));

    [Fact]
    public void AcquireRelease_SteadyState_AllocatesNothing()
    {
        var state = NewState();
        var connection = new FakeConnection(state);
        state.Acquire(connection);
        state.Release(connection);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            state.Acquire(connection);
            state.Release(connection);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Equal(0, state.Live);
    }

    [Fact]
    public void AbortAll_ThreeLiveConnections_CutsEachOnceAndLiveDropsToZero()
    {
        var state = NewState();
        var connections = new[] { FakeConnection.Open(state), FakeConnection.Open(state), FakeConnection.Open(state) };

        var cut = state.AbortAll(connections);

        Assert.Equal(3, cut);
        Assert.All(connections, c => Assert.True(c.Aborted));
        Assert.Equal(0, state.Live);
        Assert.Equal(0, state.AbortAll(connections));
    }

    [Fact]
    public void AbortAll_CutsOnlyConnectionsStillOnThisBackend()
    {
        var state = NewState();
        var other = new BackendState("web", "green", "127.0.0.1:81", new IPEndPoint(IPAddress.Loopback, 81));
        var a = FakeConnection.Open(state);
        var b = FakeConnection.Open(state);
        var elsewhere = FakeConnection.Open(other);

        b.Close();

        Assert.Equal(1, state.AbortAll([a, b, elsewhere]));
        Assert.True(a.Aborted);
        Assert.False(b.Aborted);
        Assert.False(elsewhere.Aborted);
        Assert.Equal(1, other.Live);
    }

    [Fact]
    public void Acquire_TwiceOnOneConnection_KeepsTheFirstBackend()
    {
        // A tunnel after its upgrade request counts again but stays marked on the backend it started on.
        var state = NewState();
        var connection = FakeConnection.Open(state);
        state.Acquire(connection);
        Assert.Equal(2, state.Live);

        Assert.Equal(1, state.AbortAll([connection]));
        Assert.Equal(1, state.Live);
    }
}
