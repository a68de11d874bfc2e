using FastLb.FunctionalTests.Transport;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>
/// A listener out of descriptors (the data plane's budget spent) backs off instead of spinning, and serves the waiting
/// client once descriptors free up; on either transport. The budget is process-wide, so this class runs alone.
/// </summary>
[Collection(ProcessWideCountsCollection.Name)]
public sealed class ListenerDescriptorBudgetTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;

    [Fact]
    public async Task BudgetSpent_ClientWaitsWhileAcceptBacksOff_ServedOnceDescriptorsFree()
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("echo", [backend.EndPoint]);
        await using var harness = await TcpHarness.StartAsync(service);
        var budget = DescriptorBudget.Process;
        try
        {
            budget.Configure(budget.Held);
            var attemptsBefore = Exhaustion.Accept.Total;
            await using var client = await harness.ConnectAsync(); // completes from the backlog
            await client.SendAsync("x");
            var echo = client.ReceiveStringAsync(1);

            var started = DateTime.UtcNow;
            await Task.WhenAny(echo, Task.Delay(500)); // a short look for an answer that must not come
            var elapsedMs = (DateTime.UtcNow - started).TotalMilliseconds;

            Assert.False(echo.IsCompleted, "no connection is served while the budget is spent");
            var attempts = Exhaustion.Accept.Total - attemptsBefore;
            Assert.True(attempts >= 1, "the accept loop noticed the budget was spent");
            // One attempt per 50 ms back-off at most (plus the first) for each loop that accepts (every loop on
            // io_uring): a loop that spun would count thousands.
            var acceptingLoops = harness.Server.ActiveListener("l")!.Acceptors.Count;
            Assert.True(attempts <= (acceptingLoops * ((elapsedMs / 50) + 1)) + 2,
                $"{attempts} attempts in {elapsedMs:0} ms on {acceptingLoops} accepting loop(s): the accept loop does not back off");

            budget.Configure(int.MaxValue);
            Assert.Equal("x", await echo.WaitAsync(Timeout));
        }
        finally
        {
            budget.Configure(int.MaxValue);
        }
    }
}
