using System.Net.Sockets;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// Ring accepts and the process's descriptors: none leaks, and a closed listener stops listening at once and closes
/// what its accepts took. Counts are process-wide, so this class runs alone.
/// </summary>
[Collection(ProcessWideCountsCollection.Name)]
public sealed class UringAcceptDescriptorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [UringFact]
    public async Task ManyConnectionsAcceptedAndClosed_ProcessDescriptorCountReturnsToWhereItWas()
    {
        await using var listener = await RingListener.StartAsync();
        await AcceptAndCloseAsync(listener, 8); // warms up what the process creates once
        var before = DescriptorBudget.CountOpenDescriptors();

        await AcceptAndCloseAsync(listener, 200);

        await Poll.UntilAsync(() => DescriptorBudget.CountOpenDescriptors() <= before, $"the descriptor count is back to {before} (now {DescriptorBudget.CountOpenDescriptors()})");
    }

    [UringFact]
    public async Task CloseListener_AcceptsArmedAndOneAcceptedNotTaken_StopsListening_NothingLeaks()
    {
        var listener = await RingListener.StartAsync();
        try
        {
            using var waiting = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await waiting.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
            await Poll.UntilAsync(() => listener.OnLoopAsync(() => listener.Socket.HasRingAccepted).Result, "the ring accepted the connection");

            listener.Socket.CloseListener(); // returns once the cancels of the other armed accepts ran

            using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var refused = await Assert.ThrowsAsync<SocketException>(() => late.ConnectAsync(listener.EndPoint).WaitAsync(Timeout));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            // The connection the ring accepted and nobody took was closed, not leaked: its client sees the end.
            var buffer = new byte[1];
            Assert.Equal(0, await waiting.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout));
            await Poll.UntilAsync(() => listener.OnLoopAsync(() => listener.Socket.RingAcceptor!.Released).Result, "the acceptor freed its address buffers");
        }
        finally
        {
            await listener.DisposeAsync();
        }
    }

    private static async Task AcceptAndCloseAsync(RingListener listener, int count)
    {
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
            }
            foreach (var accepted in await listener.TakeAsync(count)) accepted.Dispose();
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }
}
