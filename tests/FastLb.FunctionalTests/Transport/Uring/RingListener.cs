using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>A listening socket on 127.0.0.1:0 accepting through one io_uring loop; its ring calls run on the loop's thread.</summary>
internal sealed class RingListener : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
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
