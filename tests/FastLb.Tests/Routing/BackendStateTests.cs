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

        var cut = state.AbortAll();

        Assert.Equal(3, cut);
        Assert.All(connections, c => Assert.True(c.Aborted));
        Assert.Equal(0, state.Live);
        Assert.Equal(0, state.AbortAll());
    }

    [Fact]
    public void Release_MiddleOfList_KeepsOthersRegistered()
    {
        var state = NewState();
        var a = FakeConnection.Open(state);
        var b = FakeConnection.Open(state);
        var c = FakeConnection.Open(state);

        b.Close();

        Assert.Equal(2, state.AbortAll());
        Assert.True(a.Aborted);
        Assert.False(b.Aborted);
        Assert.True(c.Aborted);
    }
}
