using System.Net;
using FastLb.Core.Routing;
using FastLb.FunctionalTests.Transport;
using FastLb.Proxy.Http;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// The pool's sweep drops an empty idle list of a backend without traffic while a request may be returning a
/// connection to it: retirement and push agree, so a connection is never left in a list the pool no longer holds.
/// </summary>
public sealed class UpstreamIdleListTests
{
    private static readonly BackendState Backend = new("web", "main", "127.0.0.1:1", new IPEndPoint(IPAddress.Loopback, 1));

    [Fact]
    public async Task TryRetireIfEmpty_EmptyList_RetiresAndRefusesLaterPushes()
    {
        using var pair = await EpollPair.StartAsync();
        using var transport = new TransportOptions(TestLoops.Shared);
        var list = new UpstreamIdleList(TestLoops.Count, capacity: 4);

        Assert.True(list.TryRetireIfEmpty());

        Assert.False(list.TryPush(new UpstreamConnection(Backend, pair.Local, transport)));
        Assert.Equal(0, list.Count);
    }

    [Fact]
    public async Task TryRetireIfEmpty_IdleConnectionInIt_KeepsTheList()
    {
        using var pair = await EpollPair.StartAsync();
        using var transport = new TransportOptions(TestLoops.Shared);
        var list = new UpstreamIdleList(TestLoops.Count, capacity: 4);
        var connection = new UpstreamConnection(Backend, pair.Local, transport);
        Assert.True(list.TryPush(connection));

        Assert.False(list.TryRetireIfEmpty());

        Assert.True(list.TryPop(connection.Loop, out var popped));
        Assert.Same(connection, popped);
    }

    [Fact]
    public async Task TryRetireIfEmpty_RacingAPush_ExactlyOneWins()
    {
        using var pair = await EpollPair.StartAsync();
        using var transport = new TransportOptions(TestLoops.Shared);
        var connection = new UpstreamConnection(Backend, pair.Local, transport);
        for (var round = 0; round < 500; round++)
        {
            var list = new UpstreamIdleList(TestLoops.Count, capacity: 4);
            using var start = new Barrier(2);
            var push = Task.Run(() =>
            {
                start.SignalAndWait();
                return list.TryPush(connection);
            });
            start.SignalAndWait();
            var retired = list.TryRetireIfEmpty();
            var pushed = await push.WaitAsync(EpollPair.Timeout);

            // Both true would strand the connection in a dropped list; both false cannot happen either.
            Assert.True(pushed != retired, $"round {round}: pushed={pushed}, retired={retired}");
            Assert.Equal(pushed ? 1 : 0, list.Count);
        }
    }
}
