using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// An <see cref="EpollSocket"/> accepted through <see cref="EpollSocket.ForListener"/> on 127.0.0.1:0, with a plain
/// .NET <see cref="Socket"/> as its peer, and a <see cref="SocketConnection"/> (reader and writer) over it that
/// draws from a pool of its own (so <see cref="PinnedBlockMemoryPool.Rented"/> counts only this connection). It runs on
/// the test assembly's shared loops, or on loops of its own that it then owns (an io_uring set, a tiny ring).
/// </summary>
internal sealed class EpollPair : IDisposable
{
    /// <summary>The bound on every await: a hang fails the test instead of stalling the run.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly EventLoops? _ownLoops;

    private EpollPair(Socket peer, EpollSocket local, PinnedBlockMemoryPool pool, EventLoops? ownLoops)
    {
        _ownLoops = ownLoops;
        Peer = peer;
        Local = local;
        Pool = pool;
        Connection = new SocketConnection(local, pool);
    }

    /// <summary>The plain .NET socket on the other end.</summary>
    public Socket Peer { get; }

    /// <summary>The accepted transport socket under test.</summary>
    public EpollSocket Local { get; }

    public PinnedBlockMemoryPool Pool { get; }

    /// <summary>The loops given to <see cref="StartAsync"/> for this pair alone, if any.</summary>
    public EventLoops? OwnLoops => _ownLoops;

    /// <summary>The reader and writer over <see cref="Local"/>, drawing from <see cref="Pool"/>.</summary>
    public SocketConnection Connection { get; }

    public SocketReader Reader => Connection.Input;

    public SocketWriter Writer => Connection.Output;

    /// <param name="configurePeer">Runs on the peer socket before it connects (buffer sizes, linger).</param>
    /// <param name="beforeAccept">Runs once the peer is connected but before the transport accepts it.</param>
    /// <param name="onAcceptingLoop">
    /// Serve the connection on the listener's own loop, where an accepted socket is registered with epoll only on its
    /// first wait. By default it goes to another loop and is registered at accept, so the loop watches it from the
    /// start (the test assembly runs at least two loops, see <see cref="TestLoops"/>).
    /// </param>
    /// <param name="ownLoops">
    /// Loops (at least two) for this pair alone instead of the shared ones; the pair owns them and stops them on
    /// <see cref="Dispose"/>, after its sockets.
    /// </param>
    public static async Task<EpollPair> StartAsync(
        Action<Socket>? configurePeer = null, Func<Socket, Task>? beforeAccept = null, bool onAcceptingLoop = false,
        EventLoops? ownLoops = null)
    {
        var eventLoops = ownLoops ?? TestLoops.Shared;
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var listening = ListenOnLoopback(backlog: 16);
            var acceptingLoop = eventLoops[0];
            var loop = onAcceptingLoop ? acceptingLoop : eventLoops[1];
            using var listener = EpollSocket.ForListener(listening, acceptingLoop);
            configurePeer?.Invoke(peer);
            await peer.ConnectAsync((IPEndPoint)listening.LocalEndPoint!).WaitAsync(Timeout);
            if (beforeAccept is not null) await beforeAccept(peer).WaitAsync(Timeout);
            var local = await AcceptAsync(listener, loop);
            return new EpollPair(peer, local, new PinnedBlockMemoryPool(loops: eventLoops), ownLoops);
        }
        catch
        {
            peer.Dispose();
            ownLoops?.Dispose();
            throw;
        }
    }

    /// <summary>A plain listening socket on 127.0.0.1 and a port the kernel picks.</summary>
    public static Socket ListenOnLoopback(int backlog)
    {
        var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listening.Listen(backlog);
            return listening;
        }
        catch
        {
            listening.Dispose();
            throw;
        }
    }

    /// <summary>Accepts one connection the way the listener does: Accept until null, then wait for readability.</summary>
    public static async Task<EpollSocket> AcceptAsync(EpollSocket listener, EpollLoop loop)
    {
        while (true)
        {
            var accepted = listener.Accept(loop);
            if (accepted is not null) return accepted;
            Assert.True(await listener.WaitReadableAsync().AsTask().WaitAsync(Timeout), "the listener closed");
        }
    }

    public Task<ReadResult> ReadAsync() => Reader.ReadAsync().AsTask().WaitAsync(Timeout);

    public async Task SendFromPeerAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = await Peer.SendAsync(data, SocketFlags.None).AsTask().WaitAsync(Timeout);
            data = data[n..];
        }
    }

    public Task SendFromPeerAsync(string text) => SendFromPeerAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Starts a read and checks it waits (nothing has been sent): the parked read, for the test to complete.</summary>
    public async Task<Task<ReadResult>> StartParkedReadAsync(string because = "a read with nothing sent must wait")
    {
        var read = ReadAsync();
        await Task.Delay(50);
        Assert.False(read.IsCompleted, because);
        return read;
    }

    /// <summary>Checks <paramref name="first"/> carried <paramref name="text"/> and the stream then ends (in it or in the next read).</summary>
    public async Task AssertTextThenEndOfStreamAsync(ReadResult first, string text)
    {
        Assert.Equal(text, Text(first.Buffer));
        Reader.AdvanceTo(first.Buffer.End);
        if (!first.IsCompleted)
        {
            var second = await ReadAsync();
            Assert.True(second.IsCompleted);
            Assert.True(second.Buffer.IsEmpty);
        }
        Assert.Equal(ReceiveEnd.Fin, Reader.ReceiveEnd);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes at the peer.</summary>
    public Task<byte[]> ReceiveAtPeerAsync(int count) => ReceiveExactlyAsync(Peer, count, Timeout);

    /// <summary>Reads exactly <paramref name="count"/> bytes from <paramref name="socket"/>, each receive bounded by <paramref name="timeout"/>.</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count, TimeSpan timeout)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(timeout);
            if (n == 0) throw new EndOfStreamException($"end of stream after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>One receive at the peer: 0 means the transport sent FIN; a reset throws <see cref="SocketException"/>.</summary>
    public Task<int> ReceiveOnceAtPeerAsync(Memory<byte> buffer) =>
        Peer.ReceiveAsync(buffer, SocketFlags.None).AsTask().WaitAsync(Timeout);

    /// <summary>Closes the peer with RST (linger 0).</summary>
    public void ResetPeer()
    {
        Peer.LingerState = new LingerOption(true, 0);
        Peer.Close();
    }

    /// <summary>Runs <paramref name="function"/> on <see cref="Local"/>'s event loop thread (posted, as the proxies' timers do).</summary>
    public Task<T> OnLoopAsync<T>(Func<T> function) => LoopCall<T>.RunAsync(Local.Loop, function);

    public void Dispose()
    {
        Local.Dispose();
        Peer.Dispose();
        _ownLoops?.Dispose();
        Pool.Dispose();
    }

    public static string Text(in ReadOnlySequence<byte> buffer) => Encoding.ASCII.GetString(buffer.ToArray());

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test after <see cref="Timeout"/>.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what) => Poll.UntilAsync(condition, what, Timeout);

    /// <summary>Deterministic pseudo-random bytes, so a dropped, duplicated or reordered block changes the content.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on <see cref="Local"/>'s event loop thread (as a readiness callback: the peer
    /// sends one byte, read back afterwards) and waits for it.
    /// </summary>
    public async Task RunOnLoopAsync(Action action)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var armed = !Local.TryWaitReadable(static state =>
        {
            var (run, completion) = ((Action, TaskCompletionSource))state!;
            try
            {
                Assert.True(EpollLoop.CurrentId >= 0, "the callback runs on an event loop");
                run();
                completion.SetResult();
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        }, (action, done));
        Assert.True(armed, "nothing was sent yet, so the wait parks");
        await SendFromPeerAsync("x");
        await done.Task.WaitAsync(Timeout);
        Assert.True(Local.EndReadWait());
        Assert.Equal(1, Local.Receive(new byte[8]));
    }
}
