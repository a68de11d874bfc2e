using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>A splice relay that cannot get a pipe (out of descriptors) waits for one instead of failing, and recovers.</summary>
public class SplicePipeExhaustionTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;

    [Fact]
    public async Task SpliceRelay_NoDescriptorForAPipe_WaitsThenRelaysIntactOnceOneFrees()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("echo", [backend.EndPoint]), relay: "splice");
        var budget = new DescriptorBudget();
        budget.Configure(0); // no pipe can be made: as if the process were at its descriptor limit
        harness.Server.Transport.SplicePipes.Budget = budget;
        var failedBefore = Exhaustion.Pipe.Total;

        await using var client = await harness.ConnectAsync();
        var payload = new byte[256 * 1024];
        Random.Shared.NextBytes(payload);
        await client.SendAsync(payload).WaitAsync(Timeout);
        await TcpHarness.WaitUntilAsync(() => Exhaustion.Pipe.Total >= failedBefore + 2, "the relay tried for a pipe more than once");
        Assert.Equal(1, harness.Server.LiveConnections); // waiting, not cut

        budget.Configure(8); // descriptors free up: the relay goes on where it stopped
        Assert.Equal(payload, await client.ReceiveExactlyAsync(payload.Length).WaitAsync(Timeout));
        client.ShutdownSend();
        await client.ReadToEndAsync().WaitAsync(Timeout);
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");
        Assert.Equal(0, harness.Server.Transport.SplicePipes.Rented);
    }
}
