using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Proxy.Transport;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>The raw <see cref="EpollSocket"/> contract: accept, receive/send return codes, readiness waits, connect.</summary>
public sealed class EpollSocketTests
{
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    [Fact]
    public async Task Accept_EmptyBacklog_ReturnsNull_ThenTheConnectionOnceReadable()
    {
        using var listening = Listening(out var endPoint);
        var loop = TestLoops.Shared.Next();
        using var listener = EpollSocket.ForListener(listening, loop);

        Assert.Null(listener.Accept(loop));
        var readable = listener.WaitReadableAsync().AsTask();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(endPoint).WaitAsync(Timeout);
        Assert.True(await readable.WaitAsync(Timeout));

        using var accepted = listener.Accept(loop);
        Assert.NotNull(accepted);
        Assert.Equal(peer.LocalEndPoint, accepted.RemoteEndPoint);
        Assert.Same(loop, accepted.Loop);
        Assert.Null(listener.Accept(loop));
    }

    [Fact]
    public async Task Accept_WithoutLoop_SpreadsClientsArrivingOneByOne_OverEveryLoop()
    {
        // The listener's pattern: accept until the backlog answers empty, wait, accept again. Clients arriving one at
        // a time make every other accept an empty one; those must not use up round-robin turns, or with 2 loops every
        // connection lands on the same loop. Other tests take turns too, so only "every loop got some" is asserted.
        using var listening = Listening(out var endPoint);
        using var listener = EpollSocket.ForListener(listening, TestLoops.Shared.Next());
        var loops = TestLoops.Shared.All.ToArray();
        Assert.True(loops.Length >= 2, "the functional tests run at least two loops");
        var peers = new List<Socket>();
        var accepted = new List<EpollSocket>();
        try
        {
            for (var i = 0; i < 4 * loops.Length; i++)
            {
                Assert.Null(listener.Accept());
                var readable = listener.WaitReadableAsync().AsTask();
                var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                peers.Add(peer);
                await peer.ConnectAsync(endPoint).WaitAsync(Timeout);
                Assert.True(await readable.WaitAsync(Timeout));
                var socket = listener.Accept();
                Assert.NotNull(socket);
                accepted.Add(socket);
            }
            foreach (var loop in loops) Assert.Contains(accepted, s => ReferenceEquals(s.Loop, loop));
        }
        finally
        {
            foreach (var socket in accepted) socket.Dispose();
            foreach (var peer in peers) peer.Dispose();
        }
    }

    [Fact]
    public async Task Receive_MinusOneWhenNothingQueued_BytesOnceReadable_ZeroAtFin()
    {
        using var pair = await EpollPair.StartAsync();
        var buffer = new byte[64];
        Assert.Equal(-1, pair.Local.Receive(buffer));
        Assert.False(pair.Local.PeerClosed);

        var readable = pair.Local.WaitReadableAsync().AsTask();
        await pair.SendFromPeerAsync("abc");
        Assert.True(await readable.WaitAsync(Timeout));
        Assert.Equal(3, pair.Local.Receive(buffer));
        Assert.Equal("abc", Encoding.ASCII.GetString(buffer, 0, 3));

        pair.Peer.Shutdown(SocketShutdown.Send);
        Assert.True(await pair.Local.WaitReadableAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(0, pair.Local.Receive(buffer));
        Assert.True(pair.Local.PeerClosed);
        Assert.True(pair.Local.MaybeReadable);
    }

    [Fact]
    public async Task ShutdownSend_PeerSeesEndOfStream_AndCanStillSendBack()
    {
        using var pair = await EpollPair.StartAsync();
        Assert.Equal(5, pair.Local.Send("hello"u8));
        pair.Local.ShutdownSend();

        Assert.Equal("hello", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(5)));
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16]));

        await pair.SendFromPeerAsync("reply");
        var buffer = new byte[16];
        Assert.True(await pair.Local.WaitReadableAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(5, pair.Local.Receive(buffer));
        Assert.Equal("reply", Encoding.ASCII.GetString(buffer, 0, 5));
    }

    [Fact]
    public async Task Send_MinusOneWhenBufferFull_WaitWritableCompletesOncePeerDrains()
    {
        using var pair = await EpollPair.StartAsync(peer => peer.ReceiveBufferSize = 64 * 1024);
        var chunk = EpollPair.Pattern(64 * 1024, seed: 3);
        long sent = 0;
        Task<bool>? writable = null;
        for (var attempt = 0; attempt < 10 && writable is null; attempt++)
        {
            while (true)
            {
                var n = pair.Local.Send(chunk);
                if (n < 0) break;
                sent += n;
                Assert.True(sent < 64L * 1024 * 1024, "the send buffer never filled");
            }
            var wait = pair.Local.WaitWritableAsync().AsTask();
            await Task.WhenAny(wait, Task.Delay(100));
            if (!wait.IsCompleted) writable = wait; // else an edge from before the fill: fill again
        }
        Assert.NotNull(writable);

        var received = 0L;
        var buffer = new byte[256 * 1024];
        while (received < sent) received += await pair.ReceiveOnceAtPeerAsync(buffer);

        Assert.True(await writable.WaitAsync(Timeout));
        Assert.True(pair.Local.Send(chunk) > 0);
    }

    [Fact]
    public async Task Accepted_HasNoDelay_SoSmallResponsesAreNotHeldBack()
    {
        using var pair = await EpollPair.StartAsync();

        var fd = (int)pair.Local.Handle.DangerousGetHandle();
        Assert.Equal(0, SocketSyscalls.GetInt(fd, SocketSyscalls.IPPROTO_TCP, SocketSyscalls.TCP_NODELAY, out var noDelay));
        Assert.NotEqual(0, noDelay); // inherited from the listening socket, not set per connection
    }

    [Fact]
    public async Task AcceptedOnAcceptingLoop_RequestAlreadyQueued_ServedWithoutJoiningEpoll()
    {
        using var pair = await EpollPair.StartAsync(
            beforeAccept: peer => peer.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None), onAcceptingLoop: true);

        var read = await pair.ReadAsync();

        Assert.Equal("GET / HTTP/1.1\r\n\r\n", EpollPair.Text(read.Buffer));
        if (pair.Local.Loop.UsesRing)
        {
            // io_uring: the first read arms the multishot receive (a slot, no syscall), whose first pass takes the request.
            Assert.True(pair.Local.ReceivesThroughRing, "the first read moved the connection onto the ring's receive");
        }
        else
        {
            Assert.False(pair.Local.IsWatched, "a connection that never had to wait costs no epoll_ctl");
        }
    }

    [Fact]
    public async Task AcceptedOnAcceptingLoop_NothingQueued_ReadJoinsEpollAndWakesOnBytes()
    {
        using var pair = await EpollPair.StartAsync(onAcceptingLoop: true);
        Assert.False(pair.Local.IsWatched);

        var read = await pair.StartParkedReadAsync("nothing was sent");
        Assert.True(pair.Local.IsWatched);

        await pair.SendFromPeerAsync("late");
        Assert.Equal("late", EpollPair.Text((await read).Buffer));
    }

    [Fact]
    public async Task AcceptedOnAcceptingLoop_BytesAndFinQueued_ReadReturnsBytesThenEndOfStream()
    {
        using var pair = await EpollPair.StartAsync(
            beforeAccept: async peer =>
            {
                await peer.SendAsync("hello"u8.ToArray(), SocketFlags.None);
                peer.Shutdown(SocketShutdown.Send);
            },
            onAcceptingLoop: true);

        await pair.AssertTextThenEndOfStreamAsync(await pair.ReadAsync(), "hello");
    }

    [Fact]
    public async Task Dispose_WakesParkedWaitWithFalse_LaterCallsSeeClosedSocket()
    {
        using var pair = await EpollPair.StartAsync();
        var readable = pair.Local.WaitReadableAsync().AsTask();
        await Task.Delay(50);
        Assert.False(readable.IsCompleted, "nothing was sent");

        pair.Local.Dispose();

        Assert.False(await readable.WaitAsync(Timeout));
        Assert.True(pair.Local.IsClosed);
        Assert.False(await pair.Local.WaitReadableAsync().AsTask().WaitAsync(Timeout));
        Assert.False(await pair.Local.WaitWritableAsync().AsTask().WaitAsync(Timeout));
        Assert.Throws<ObjectDisposedException>(() => pair.Local.Receive(new byte[16]));
        Assert.Throws<ObjectDisposedException>(() => pair.Local.Send("x"u8));
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16]));
    }

    [Fact]
    public async Task ConnectAsync_ListeningPeer_ConnectsAndExchangesBytes()
    {
        using var listening = Listening(out var endPoint);
        using var socket = await EpollSocket.ConnectAsync(endPoint, TestLoops.Shared.Next(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        using var peer = await listening.AcceptAsync().WaitAsync(Timeout);

        Assert.Equal(endPoint, socket.RemoteEndPoint);
        Assert.Equal(4, socket.Send("ping"u8));
        var buffer = new byte[16];
        Assert.Equal(4, await peer.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout));
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, 4));

        await peer.SendAsync(new ReadOnlyMemory<byte>("pong"u8.ToArray()), SocketFlags.None).AsTask().WaitAsync(Timeout);
        Assert.True(await socket.WaitReadableAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(4, socket.Receive(buffer));
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 0, 4));
    }

    [Fact]
    public async Task ConnectAsync_ClosedPort_ThrowsConnectionRefused()
    {
        // Bound but not listening: the port is ours (no other test can take it) and every SYN is refused.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var endPoint = (IPEndPoint)closed.LocalEndPoint!;

        var error = await Assert.ThrowsAsync<SocketException>(() =>
            EpollSocket.ConnectAsync(endPoint, TestLoops.Shared.Next(), CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact]
    public async Task ConnectAsync_AlreadyCanceledToken_ThrowsWithoutConnecting()
    {
        using var listening = Listening(out var endPoint);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            EpollSocket.ConnectAsync(endPoint, TestLoops.Shared.Next(), cts.Token).AsTask().WaitAsync(Timeout));
        Assert.False(listening.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead), "a connection reached the listener");
    }

    [Fact]
    public async Task ConnectAsync_CanceledWhileHandshakeHangs_ThrowsOperationCanceled()
    {
        // A listener whose accept queue is full drops further SYNs, so a loopback connect stays in SYN_SENT.
        using var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listening.Listen(0);
        var endPoint = (IPEndPoint)listening.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            // Fill the queue: connect until one handshake does not complete promptly.
            while (true)
            {
                Assert.True(fillers.Count < 8, "could not fill the accept queue");
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                var connect = filler.ConnectAsync(endPoint);
                if (await Task.WhenAny(connect, Task.Delay(200)) != connect) break;
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            var connecting = EpollSocket.ConnectAsync(endPoint, TestLoops.Shared.Next(), cts.Token).AsTask();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting.WaitAsync(Timeout));
            Assert.True(cts.IsCancellationRequested);
        }
        finally
        {
            foreach (var filler in fillers) filler.Dispose();
        }
    }

    private static Socket Listening(out IPEndPoint endPoint)
    {
        var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listening.Listen(16);
        endPoint = (IPEndPoint)listening.LocalEndPoint!;
        return listening;
    }
}
