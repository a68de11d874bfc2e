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
    public void Acquire_TwiceOnOneConnection_KeepsTheFirstBackend()
    {
        // A tunnel after its upgrade request counts again but stays marked on the backend it started on.
        var state = NewState();
        var connection = FakeConnection.Open(state);
        state.Acquire(connection);
        Assert.Equal(2, state.Live);
        Assert.Same(state, connection.DrainLink.Owner);
    }
}
