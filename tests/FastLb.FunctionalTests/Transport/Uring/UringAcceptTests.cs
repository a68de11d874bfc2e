using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
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

    /// <summary>A listening socket on 127.0.0.1:0 accepting through one io_uring loop; its ring calls run on the loop's thread.</summary>
    internal sealed class RingListener : IAsyncDisposable
    {
        private readonly Socket _listening;

        private RingListener(EventLoops loops, Socket listening, EpollSocket socket)
        {
            Loops = loops;
            _listening = listening;
            Socket = socket;
            EndPoint = (IPEndPoint)listening.LocalEndPoint!;
        }

        public EventLoops Loops { get; }
        public EpollSocket Socket { get; }
        public IPEndPoint EndPoint { get; }

        public static async Task<RingListener> StartAsync()
        {
            var loops = new EventLoops(1, io: IoMode.IoUring);
            var listening = EpollPair.ListenOnLoopback(backlog: 1024);
            var socket = EpollSocket.ForRingListener(listening, loops[0]);
            Assert.True(socket.AcceptsThroughRing);
            var listener = new RingListener(loops, listening, socket);
            await listener.OnLoopAsync(() => socket.ArmRingAccepts(RingAcceptor.Slots));
            await Poll.UntilAsync(() => listener.OnLoopAsync(() => socket.RingAcceptor!.InKernelCount).Result == RingAcceptor.Slots, "every accept is in the kernel");
            return listener;
        }

        public Task<T> OnLoopAsync<T>(Func<T> function) => LoopCall<T>.RunAsync(Loops[0], function);

        public Task OnLoopAsync(Action action) => LoopCall<bool>.RunAsync(Loops[0], () =>
        {
            action();
            return true;
        });

        /// <summary>Takes <paramref name="count"/> accepted connections, arming the accepts again after each batch.</summary>
        public async Task<List<EpollSocket>> TakeAsync(int count)
        {
            var accepted = new List<EpollSocket>();
            var deadline = DateTime.UtcNow + Timeout;
            while (accepted.Count < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"timed out with {accepted.Count} of {count} accepted");
                var batch = await OnLoopAsync(() =>
                {
                    var taken = new List<EpollSocket>();
                    while (Socket.TakeRingAccepted(out var errno, Loops[0]) is { } s)
                    {
                        Assert.Equal(0, errno);
                        taken.Add(s);
                    }
                    Socket.ArmRingAccepts(RingAcceptor.Slots);
                    return taken;
                });
                accepted.AddRange(batch);
                if (batch.Count == 0) await Task.Delay(10);
            }
            return accepted;
        }

        public async ValueTask DisposeAsync()
        {
            Socket.CloseListener();
            _listening.Dispose();
            await Task.Yield();
            Loops.Dispose();
        }
    }
}
