using System.Net;
using System.Net.Sockets;
using FastLb.FunctionalTests.Http;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// Listeners accepting through the ring (single-shot IORING_OP_ACCEPTs kept armed): every connection gets its own
/// peer address, and closing a listener cancels its accepts, so it stops listening at once.
/// </summary>
public sealed class UringAcceptTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [UringFact]
    public async Task ManyClientsAtOnce_EachAcceptedConnectionHasItsOwnPeer()
    {
        // More clients than armed accepts, all connecting before anything is taken: several accepts complete in one
        // loop iteration, and each must carry its own client's address (a multishot accept's shared buffer would not).
        await using var listener = await RingListener.StartAsync();
        const int Clients = 40;
        var clients = new Socket[Clients];
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await clients[i].ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
            }

            var accepted = await listener.TakeAsync(Clients);

            var peers = accepted.Select(s => s.RemoteEndPoint!.Port).Order().ToArray();
            var locals = clients.Select(c => ((IPEndPoint)c.LocalEndPoint!).Port).Order().ToArray();
            Assert.Equal(locals, peers);
            Assert.All(accepted, s => Assert.Equal(IPAddress.Loopback, s.RemoteEndPoint!.Address));
            foreach (var s in accepted) s.Dispose();
        }
        finally
        {
            foreach (var c in clients) c?.Dispose();
        }
    }

    [UringFact]
    public async Task AcceptedConnection_ServedByTheProxySocket_BytesFlowBothWays()
    {
        await using var listener = await RingListener.StartAsync();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);

        using var accepted = Assert.Single(await listener.TakeAsync(1));
        await client.SendAsync("ping"u8.ToArray()).WaitAsync(Timeout);
        var buffer = new byte[4];
        await Poll.UntilAsync(() => accepted.Receive(buffer) == 4, "the accepted socket received the bytes");
        Assert.Equal(4, accepted.Send("pong"u8));
        var received = new byte[4];
        Assert.Equal(4, await client.ReceiveAsync(received, SocketFlags.None).WaitAsync(Timeout));

        Assert.Equal("ping"u8.ToArray(), buffer);
        Assert.Equal("pong"u8.ToArray(), received);
    }

    [UringFact]
    public async Task CancelRingAccepts_NothingStaysArmed_ClientsWaitInTheBacklogUntilArmedAgain()
    {
        await using var listener = await RingListener.StartAsync();
        await listener.OnLoopAsync(() => listener.Socket.CancelRingAccepts());
        await Poll.UntilAsync(() => listener.OnLoopAsync(() => listener.Socket.RingAcceptsArmed).Result == 0, "the armed accepts were cancelled");

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout); // completes from the backlog

        Assert.False(await listener.OnLoopAsync(() => listener.Socket.HasRingAccepted), "nothing is accepted while no accept is armed");
        var accepted = await listener.TakeAsync(1); // arms again
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, Assert.Single(accepted).RemoteEndPoint!.Port);
        accepted[0].Dispose();
    }
}
