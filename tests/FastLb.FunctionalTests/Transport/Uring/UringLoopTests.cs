using System.Buffers;
using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// The io_uring event loop under pressure, through the same sockets, readers and writers the proxies use: a ring too
/// small for one iteration's work (SQ and CQ overflow), thousands of connections aborted with operations in flight,
/// and loops torn down while connections still wait on them.
/// </summary>
public sealed class UringLoopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [UringFact]
    public async Task TinyRing_ManyConnectionsAtOnce_OverflowSqAndCq_EveryByteEchoed()
    {
        // 4 SQ entries and 8 CQ entries for 200 connections that all arm their polls and turn readable in one burst:
        // arms wait for SQ room, completions past the CQ wait in the kernel (NODROP); none may be lost.
        using var loops = new EventLoops(1, io: IoMode.IoUring, ringEntries: 4);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        await using var server = EchoServer.Start(loops, pool);
        const int Connections = 200;
        var clients = new Socket[Connections];
        try
        {
            for (var i = 0; i < Connections; i++) clients[i] = await ConnectAsync(server.EndPoint);
            var payloads = Enumerable.Range(0, Connections).Select(i => EpollPair.Pattern(3000 + i, i)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, Connections).Select(i => clients[i].SendAsync(payloads[i].AsMemory(), SocketFlags.None).AsTask())).WaitAsync(Timeout);

            var echoed = await Task.WhenAll(Enumerable.Range(0, Connections).Select(i => ReceiveAsync(clients[i], payloads[i].Length))).WaitAsync(Timeout);

            for (var i = 0; i < Connections; i++) Assert.Equal(payloads[i], echoed[i]);
        }
        finally
        {
            foreach (var c in clients) c?.Dispose();
        }
    }

    [UringFact]
    public async Task RegisteredFiles_ConnectionThatSendsOnce_TakesNoEntry_ReusedConnections_TakeOneFromTheirSecondSend_EveryCloseSendsFin()
    {
        // A reused connection's socket goes into the table at its second send. Each one here takes the slot (and table
        // index) the previous one freed: its file replaces the old one's, and a close must clear the index, or the
        // table would keep the socket open and the client see no FIN.
        using var loops = new EventLoops(1, io: IoMode.IoUring);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        await using var server = EchoServer.Start(loops, pool);
        Assert.True(loops[0].FileTableSize > 0, "the ring registered no file table");
        var installedBefore = loops[0].FilesInstalled;
        for (var i = 0; i < 10; i++) await EchoThenCloseAsync(server.EndPoint, exchanges: 1, i);
        Assert.Equal(installedBefore, loops[0].FilesInstalled);

        const int Connections = 50;
        for (var i = 0; i < Connections; i++) await EchoThenCloseAsync(server.EndPoint, exchanges: 2, i);

        Assert.True(loops[0].FilesInstalled - installedBefore >= Connections, $"{loops[0].FilesInstalled - installedBefore} of {Connections} reused connections used the file table");
        Assert.Equal(0, loops[0].FileUpdatesFailed);
    }

    [UringFact]
    public async Task FileTableOfTwo_ManyReusedConnectionsAtOnce_ThoseBeyondItUseDescriptors_EveryByteEchoed_EveryCloseSendsFin()
    {
        using var loops = new EventLoops(1, io: IoMode.IoUring, fileTableSize: 2);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        await using var server = EchoServer.Start(loops, pool);
        Assert.Equal(2, loops[0].FileTableSize);
        const int Connections = 40;
        var installedAfterWave = new long[2];
        for (var wave = 0; wave < 2; wave++)
        {
            // All registered (parked in their first read) before any exchange, so every slot the loop has, the table's
            // index 1 among them, belongs to one of this wave's sockets.
            var parkedBefore = server.Parked;
            var clients = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => ConnectAsync(server.EndPoint))).WaitAsync(Timeout);
            await UntilAsync(() => server.Parked >= parkedBefore + Connections, "every connection of the wave parked in its first read");
            await Task.WhenAll(clients.Select((c, i) => EchoThenCloseAsync(c, exchanges: 3, i + wave))).WaitAsync(Timeout);
            installedAfterWave[wave] = loops[0].FilesInstalled;
        }
        // The second wave put files into the indexes the first wave's closes cleared.
        Assert.True(installedAfterWave[0] > 0, "the first wave used no index of the table");
        Assert.True(installedAfterWave[1] > installedAfterWave[0], "the second wave used no index of the table");
        Assert.Equal(0, loops[0].FileUpdatesFailed);
    }

    /// <summary>Sends <paramref name="exchanges"/> messages one echo at a time, then closes its side and expects the server's FIN.</summary>
    private static async Task EchoThenCloseAsync(IPEndPoint endPoint, int exchanges, int seed) =>
        await EchoThenCloseAsync(await ConnectAsync(endPoint), exchanges, seed);

    private static async Task EchoThenCloseAsync(Socket client, int exchanges, int seed)
    {
        using var _ = client;
        for (var n = 0; n < exchanges; n++)
        {
            var payload = EpollPair.Pattern(100 + seed, seed + n);
            await client.SendAsync(payload.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout);
            Assert.Equal(payload, await ReceiveAsync(client, payload.Length));
        }
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await client.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout));
    }

    [UringFact]
    public async Task ReaderFallsBehind_ReceiveStopsNearTheBound_SenderIsHeldBack_EveryByteArrivesInOrder()
    {
        // A reader that stops reading (as one whose other side is a slow client does) must not have the whole
        // transfer buffered in the process: past the bound the loop stops receiving and the bytes wait in the kernel.
        await using var listener = await RingListener.StartAsync();
        using var pool = new PinnedBlockMemoryPool();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        var accepted = Assert.Single(await listener.TakeAsync(1));
        var reader = new SocketReader(accepted, pool);
        var payload = EpollPair.Pattern(16 * 1024 * 1024, 7);
        var sending = client.SendAsync(payload.AsMemory(), SocketFlags.None).AsTask();
        var received = new MemoryStream();
        var first = await reader.ReadAsync().AsTask().WaitAsync(Timeout); // moves the socket onto the ring's receive
        foreach (var segment in first.Buffer) received.Write(segment.Span);
        reader.AdvanceTo(first.Buffer.End);

        await UntilAsync(() => accepted.ReceivePaused, "the receive stopped for the reader that fell behind");
        await Task.Delay(300);
        var worstCase = EpollSocket.RingReceiveBound + (long)EpollLoop.DefaultReceiveBuffers * EpollLoop.DefaultReceiveBufferSize;
        Assert.True(accepted.InboxBytes <= worstCase, $"{accepted.InboxBytes} bytes held for the reader (bound {EpollSocket.RingReceiveBound})");
        Assert.False(sending.IsCompleted, "the sender was not held back: all 16 MiB went somewhere");

        while (received.Length < payload.Length)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            foreach (var segment in result.Buffer) received.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            Assert.False(result.IsCompleted && received.Length < payload.Length, "the stream ended early");
        }
        await sending.WaitAsync(Timeout);
        Assert.Equal(payload, received.ToArray());
        reader.Complete();
        accepted.Dispose();
    }

    [UringFact]
    public async Task ReceiveBuffersExhausted_ManyConnectionsSending_EveryByteEchoedInOrder_IdleHoldsNoBlock()
    {
        // Two provided buffers of 256 bytes for 64 connections sending 64 KiB each: the multishot receives run out of
        // buffers over and over (ENOBUFS); each is armed again and the bytes wait in the socket meanwhile.
        using var loops = new EventLoops(1, io: IoMode.IoUring, receiveBuffers: 2, receiveBufferSize: 256);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        await using var server = EchoServer.Start(loops, pool);
        const int Connections = 64;
        var clients = new Socket[Connections];
        try
        {
            for (var i = 0; i < Connections; i++) clients[i] = await ConnectAsync(server.EndPoint);
            var payloads = Enumerable.Range(0, Connections).Select(i => EpollPair.Pattern(64 * 1024, i)).ToArray();
            var echoing = Enumerable.Range(0, Connections).Select(i => ReceiveAsync(clients[i], payloads[i].Length)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, Connections).Select(i => clients[i].SendAsync(payloads[i].AsMemory(), SocketFlags.None).AsTask())).WaitAsync(Timeout);

            var echoed = await Task.WhenAll(echoing).WaitAsync(Timeout);

            for (var i = 0; i < Connections; i++) Assert.Equal(payloads[i], echoed[i]);
            Assert.True(loops[0].ReceiveBuffersExhausted > 0, "the receives never ran out of provided buffers");
            // Every connection is now idle with its read parked on the ring: none holds a block.
            await UntilAsync(() => pool.Rented == 0, "idle connections hold no receive block");
            Assert.Equal(Connections, server.Live);
        }
        finally
        {
            foreach (var c in clients) c?.Dispose();
        }
    }

    [UringFact]
    public async Task ThousandsOfConnectionsAbortedMidOperation_NoneHangs_LoopKeepsServing_NothingLeaks()
    {
        using var loops = new EventLoops(2, io: IoMode.IoUring);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        await using var server = EchoServer.Start(loops, pool, echo: false);
        const int Rounds = 4;
        const int PerRound = 500;
        for (var round = 0; round < Rounds; round++)
        {
            var clients = new Socket[PerRound];
            try
            {
                for (var i = 0; i < PerRound; i++) clients[i] = await ConnectAsync(server.EndPoint);
                await UntilAsync(() => server.Parked >= (long)(round + 1) * PerRound, $"{PerRound} connections parked in reads and sends (round {round})");
                // Abort from thread-pool threads while the clients keep sending: every socket has a read parked on the
                // ring and sends in the ring that wait for room (a flush waiting past the bound) when its abort lands.
                var sending = Task.WhenAll(clients.Select(c => c.SendAsync(new byte[512].AsMemory(), SocketFlags.None).AsTask().ContinueWith(static _ => { }, TaskScheduler.Default)));
                await Task.WhenAll(server.Accepted.Take(PerRound).Select(s => Task.Run(s.Abort)));
                server.ClearAccepted();
                await sending.WaitAsync(Timeout);
                foreach (var c in clients) await AssertResetOrClosedAsync(c);
            }
            finally
            {
                foreach (var c in clients) c?.Dispose();
            }
        }
        await UntilAsync(() => server.Finished == Rounds * PerRound, "every aborted connection's read and send completed");
        Assert.Equal(0, server.Crashed);
        Assert.Equal(0, server.Live);
        await UntilAsync(() => pool.Rented == 0, "the aborted connections' blocks went back to the pool");

        // The loops still serve: a new connection gets the server's bytes.
        using var fresh = await ConnectAsync(server.EndPoint);
        var first = await ReceiveAsync(fresh, 1000);
        Assert.Equal(1000, first.Length);
    }

    [UringFact]
    public async Task LoopsTornDown_WithReadsParkedOnTheRing_ThreadsExit_SocketsStillClose()
    {
        var loops = new EventLoops(2, io: IoMode.IoUring);
        using var pool = new PinnedBlockMemoryPool(loops: loops);
        var server = EchoServer.Start(loops, pool);
        const int Connections = 50;
        var clients = new Socket[Connections];
        try
        {
            for (var i = 0; i < Connections; i++) clients[i] = await ConnectAsync(server.EndPoint);
            await UntilAsync(() => server.Parked >= Connections, "every connection parked in a read");

            loops.Dispose(); // the rings go with their threads: the kernel cancels the polls still armed

            foreach (var socket in server.Accepted) socket.Abort();
            await UntilAsync(() => server.Finished == Connections, "every parked read completed once its socket was aborted");
            // The ring held each socket's file through its poll; with the ring gone the abort's RST reaches the peer.
            foreach (var c in clients) await AssertResetOrClosedAsync(c);
        }
        finally
        {
            foreach (var c in clients) c?.Dispose();
            await server.DisposeAsync();
        }
    }

    private static Task UntilAsync(Func<bool> condition, string what) => Poll.UntilAsync(condition, what, Timeout);

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint).WaitAsync(Timeout);
        return socket;
    }

    private static Task<byte[]> ReceiveAsync(Socket socket, int count) => EpollPair.ReceiveExactlyAsync(socket, count, Timeout);

    private static async Task AssertResetOrClosedAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout) > 0)
            {
                // bytes sent before the abort, if any
            }
        }
        catch (SocketException)
        {
            // reset: what an abort sends
        }
    }

    /// <summary>
    /// A listener on its own loop that accepts onto the loops round-robin and runs each connection: echo, or (when
    /// <c>echo</c> is false) a read and an unbounded send parked against a peer that never reads.
    /// </summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly Socket _listening;
        private readonly EpollSocket _listener;
        private readonly EventLoops _loops;
        private readonly MemoryPool<byte> _pool;
        private readonly bool _echo;
        private readonly List<EpollSocket> _accepted = [];
        private readonly Task _accepting;
        private long _parked;
        private long _finished;
        private long _crashed;
        private int _live;

        private EchoServer(EventLoops loops, MemoryPool<byte> pool, bool echo)
        {
            _loops = loops;
            _pool = pool;
            _echo = echo;
            _listening = EpollPair.ListenOnLoopback(backlog: 1024);
            EndPoint = (IPEndPoint)_listening.LocalEndPoint!;
            _listener = EpollSocket.ForListener(_listening, loops[0]);
            _accepting = AcceptLoopAsync();
        }

        public IPEndPoint EndPoint { get; }

        public long Parked => Interlocked.Read(ref _parked);

        public long Finished => Interlocked.Read(ref _finished);

        public long Crashed => Interlocked.Read(ref _crashed);

        public int Live => Volatile.Read(ref _live);

        public EpollSocket[] Accepted
        {
            get
            {
                lock (_accepted) return [.. _accepted];
            }
        }

        public void ClearAccepted()
        {
            lock (_accepted) _accepted.Clear();
        }

        public static EchoServer Start(EventLoops loops, MemoryPool<byte> pool, bool echo = true) => new(loops, pool, echo);

        private async Task AcceptLoopAsync()
        {
            try
            {
                while (true)
                {
                    var socket = _listener.Accept(_loops.Next());
                    if (socket is null)
                    {
                        if (!await _listener.WaitReadableAsync()) return;
                        continue;
                    }
                    lock (_accepted) _accepted.Add(socket);
                    // Started on the socket's own loop, as the proxies run: its flushes then send through the ring.
                    _ = LoopCall<Task>.RunAsync(socket.Loop, () => _echo ? EchoAsync(socket) : HoldAsync(socket));
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private async Task EchoAsync(EpollSocket socket)
        {
            Interlocked.Increment(ref _live);
            var connection = new SocketConnection(socket, _pool);
            try
            {
                while (true)
                {
                    var read = connection.Input.ReadAsync();
                    if (!read.IsCompleted) Interlocked.Increment(ref _parked);
                    var result = await read;
                    foreach (var segment in result.Buffer) connection.Output.Write(segment.Span);
                    connection.Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted) break;
                    var flush = await connection.Output.FlushAsync();
                    if (flush.IsCompleted) break;
                }
            }
            catch (Exception e) when (e is ConnectionAbortedException or ConnectionResetException)
            {
            }
            catch (Exception)
            {
                Interlocked.Increment(ref _crashed);
            }
            finally
            {
                connection.Dispose();
                Interlocked.Decrement(ref _live);
                Interlocked.Increment(ref _finished);
            }
        }

        private async Task HoldAsync(EpollSocket socket)
        {
            Interlocked.Increment(ref _live);
            var connection = new SocketConnection(socket, _pool);
            try
            {
                // Sends that fill the peer's receive window and wait in the ring, and a read parked on the ring.
                var chunk = new byte[64 * 1024];
                var sending = SendForeverAsync(connection, chunk);
                var reading = ReadForeverAsync(connection);
                Interlocked.Increment(ref _parked);
                await Task.WhenAll(sending, reading);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref _crashed);
            }
            finally
            {
                connection.Dispose();
                Interlocked.Decrement(ref _live);
                Interlocked.Increment(ref _finished);
            }
        }

        private static async Task SendForeverAsync(SocketConnection connection, byte[] chunk)
        {
            while (true)
            {
                connection.Output.Write(chunk);
                var flush = await connection.Output.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled) return;
            }
        }

        private static async Task ReadForeverAsync(SocketConnection connection)
        {
            try
            {
                while (true)
                {
                    var result = await connection.Input.ReadAsync();
                    connection.Input.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted) return;
                }
            }
            catch (Exception e) when (e is ConnectionAbortedException or ConnectionResetException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            _listening.Dispose();
            foreach (var socket in Accepted) socket.Abort();
            await _accepting.WaitAsync(Timeout);
        }
    }
}
