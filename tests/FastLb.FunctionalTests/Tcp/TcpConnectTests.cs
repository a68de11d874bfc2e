using System.Net.Sockets;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

public class TcpConnectTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Connect_FirstBackendRefuses_LandsOnSecondAndCountsFailure(string relay)
    {
        var closed = LoopbackBackend.ClosedPort();
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Name, "b");
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("svc", [closed, backend.EndPoint]), relay: relay);
        await using var client = await harness.ConnectAsync();

        Assert.Equal("b", await client.ReceiveStringAsync(1).WaitAsync(Timeout));
        Assert.Equal(1, harness.State(closed).Failures);
        Assert.Equal(0, harness.State(closed).TotalConnections);
        Assert.Equal(1, harness.State(backend.EndPoint).TotalConnections);
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Connect_NoBackendAnswers_ClientIsReset(string relay)
    {
        var closed = LoopbackBackend.ClosedPort();
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("svc", [closed]), relay: relay);

        // The RST can beat the client's own connect completion on loopback, so either step may see it.
        await Assert.ThrowsAsync<SocketException>(async () =>
        {
            await using var client = await harness.ConnectAsync();
            await client.ReadToEndAsync().WaitAsync(Timeout);
        });
        await TcpHarness.WaitUntilAsync(() => harness.State(closed).Failures == 1, "the refused connect was counted");
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Connect_TwoBackends_PickedPerConnectionRoundRobin(string relay)
    {
        await using var a = LoopbackBackend.Start(LoopbackBackendMode.Name, "a");
        await using var b = LoopbackBackend.Start(LoopbackBackendMode.Name, "b");
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("svc", [a.EndPoint, b.EndPoint]), relay: relay);

        var names = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            await using var client = await harness.ConnectAsync();
            names.Add(await client.ReceiveStringAsync(1).WaitAsync(Timeout));
        }

        Assert.Equal(["a", "b", "a", "b"], names);
        Assert.Equal(2, a.AcceptedConnections);
        Assert.Equal(2, b.AcceptedConnections);
    }
}
