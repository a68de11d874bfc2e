using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastLb.Core.Config;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// Sends through the ring: a flush on the socket's loop hands its bytes over and completes at once, waits only past
/// <see cref="SocketWriter.RingSendBound"/>, keeps the bytes in order with flushes made elsewhere, finishes with FIN
/// after the last byte, and gives every block back however the connection ends.
/// </summary>
public sealed class UringSendTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const int Chunk = 16 * 1024;

    [UringFact]
    public async Task FlushOnTheLoop_CompletesAtOnce_PeerGetsTheBytes_BlockGoesBack()
    {
        await using var pair = await RingPair.StartAsync();

        var completedAtOnce = await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("hello ring"u8);
            var flush = pair.Writer.FlushAsync();
            return flush.IsCompleted && !flush.Result.IsCompleted && !flush.Result.IsCanceled;
        });

        Assert.True(completedAtOnce, "a flush within the bound must not wait for the send's completion");
        Assert.Equal("hello ring"u8.ToArray(), await pair.ReceiveAtPeerAsync(10));
        await pair.UntilAsync(() => pair.Pool.Rented == 0, "the sent block went back to the pool");
        Assert.Equal(10, pair.Writer.BytesSent);
    }

    [UringFact]
    public async Task PeerNotReading_FlushesCompleteUntilTheBound_ThenWait_BytesArriveInOrder()
    {
        await using var pair = await RingPair.StartAsync(smallWindow: true);
        var data = EpollPair.Pattern(8 * 1024 * 1024, seed: 21);

        var (offset, parked) = await FillUntilAFlushWaitsAsync(pair, data);
        Assert.True(pair.Writer.RingQueued > SocketWriter.RingSendBound, $"a flush waited with only {pair.Writer.RingQueued} B queued");

        var draining = DrainAtPeerAsync(pair.Peer, data.Length);
        var result = await parked.WaitAsync(Timeout);
        Assert.False(result.IsCompleted);
        // The rest from the loop, awaiting each flush there.
        await pair.OnLoopAsync(() => SendRestAsync(pair.Writer, data, offset)).Unwrap().WaitAsync(Timeout);

        Assert.Equal(SHA256.HashData(data), await draining);
        await pair.UntilAsync(() => pair.Pool.Rented == 0, "every sent block went back to the pool");
    }

    [UringFact]
    public async Task FlushOffTheLoop_WhileRingSendsWait_GoesAfterThem()
    {
        await using var pair = await RingPair.StartAsync(smallWindow: true);
        var data = EpollPair.Pattern(4 * 1024 * 1024, seed: 22);
        // Fill the path until a flush waits, then cancel that wait: the writer is free again while the ring still
        // holds more than the bound that the kernel has no room for.
        var (offset, parked) = await FillUntilAFlushWaitsAsync(pair, data);
        pair.Writer.CancelPendingFlush();
        Assert.True((await parked.WaitAsync(Timeout)).IsCanceled, "a cancel ends a flush waiting on the ring");

        // From this (test) thread, while the ring still holds unsent bytes: the flush must wait, not overtake them.
        pair.Writer.Write(data.AsSpan(offset));
        var flushing = pair.Writer.FlushAsync().AsTask();
        await Task.Delay(100);
        Assert.False(flushing.IsCompleted, "a flush off the loop overtook the ring's sends");
        var draining = DrainAtPeerAsync(pair.Peer, data.Length);
        var result = await flushing.WaitAsync(Timeout);

        Assert.False(result.IsCompleted);
        Assert.Equal(SHA256.HashData(data), await draining);
    }

    [UringFact]
    public async Task CompleteOnTheLoop_WithSendsInFlight_FinFollowsTheLastByte()
    {
        await using var pair = await RingPair.StartAsync(smallWindow: true);
        var data = EpollPair.Pattern(1024 * 1024, seed: 23);

        var completing = await pair.OnLoopAsync(async () =>
        {
            await SendRestAsync(pair.Writer, data, 0);
            await pair.Writer.CompleteAsync();
        });

        var received = await DrainAtPeerAsync(pair.Peer, data.Length);
        await completing.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(data), received);
        Assert.Equal(0, await pair.Peer.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout));
        await pair.UntilAsync(() => pair.Pool.Rented == 0, "every block went back to the pool");
    }

    [UringFact]
    public async Task SyncCompleteThenDispose_OnTheLoop_BytesTheKernelTookStillArrive()
    {
        // The proxy's pattern for a last response: write, flush, complete, close, all in one turn of the loop, before
        // the send was even submitted. The send's SQE goes in ahead of the close's cancel, so the bytes arrive.
        await using var pair = await RingPair.StartAsync();
        Assert.True(await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8);
            var flush = pair.Writer.FlushAsync();
            pair.Connection.Dispose();
            return flush.IsCompleted;
        }));

        var received = await DrainAtPeerAsync(pair.Peer, 38, untilEnd: true);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), received.Bytes);
        await pair.UntilAsync(() => pair.Pool.Rented == 0, "the block went back once the send completed");
    }

    [UringFact]
    public async Task PeerResetsWithSendsInFlight_ConnectionAborted_FlushReportsTheEnd_BlocksReturned()
    {
        await using var pair = await RingPair.StartAsync(smallWindow: true);
        var data = EpollPair.Pattern(4 * 1024 * 1024, seed: 24);
        var (_, parked) = await FillUntilAFlushWaitsAsync(pair, data);

        pair.Peer.LingerState = new LingerOption(true, 0);
        pair.Peer.Close(); // RST: the send waiting for room fails

        var result = await parked.WaitAsync(Timeout);
        Assert.True(result.IsCompleted, "a failed send must end the flush as the peer being gone");
        Assert.True(pair.Writer.Failed);
        await pair.UntilAsync(() => pair.Local.IsClosed, "a failed send aborts the connection");
        var next = await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("more"u8);
            return pair.Writer.FlushAsync().AsTask();
        }).Unwrap();
        Assert.True(next.IsCompleted);
        pair.Connection.Dispose();
        await pair.UntilAsync(() => pair.Pool.Rented == 0, "the unsent blocks went back to the pool");
    }

    [UringFact]
    public async Task LoopsStopped_WithSendsInFlight_FlushFails_BlocksReturned()
    {
        var pair = await RingPair.StartAsync(smallWindow: true);
        try
        {
            var data = EpollPair.Pattern(4 * 1024 * 1024, seed: 25);
            var (_, parked) = await FillUntilAFlushWaitsAsync(pair, data);

            pair.Loops.Dispose(); // the loop cancels its sends in the kernel and reaps them before closing the ring

            var result = await parked.WaitAsync(Timeout);
            Assert.True(result.IsCompleted);
            Assert.True(pair.Local.IsClosed);
            Assert.Equal(0, pair.Pool.Rented);
        }
        finally
        {
            await pair.DisposeAsync();
        }
    }

    /// <summary>
    /// Flushes <paramref name="data"/> 16 KiB at a time on the loop (one turn each, so every send is submitted in
    /// between) until a flush still waits after 300 ms: the kernel has no room and the ring holds more than the bound.
    /// </summary>
    private static async Task<(int Offset, Task<FlushResult> Parked)> FillUntilAFlushWaitsAsync(RingPair pair, byte[] data)
    {
        for (var at = 0; at < data.Length; at += Chunk)
        {
            var offset = at;
            var flush = await pair.OnLoopAsync(() =>
            {
                pair.Writer.Write(data.AsSpan(offset, Chunk));
                return pair.Writer.FlushAsync().AsTask();
            });
            if (flush.IsCompleted) continue;
            if (await Task.WhenAny(flush, Task.Delay(300)) != flush) return (at + Chunk, flush);
            Assert.False((await flush).IsCompleted, "the peer is still there");
        }
        throw new InvalidOperationException($"{data.Length} B went out to a peer that does not read");
    }

    private static async Task SendRestAsync(PipeWriter writer, byte[] data, int offset)
    {
        for (var at = offset; at < data.Length; at += Chunk)
        {
            writer.Write(data.AsSpan(at, Math.Min(Chunk, data.Length - at)));
            var flush = await writer.FlushAsync();
            Assert.False(flush.IsCompleted || flush.IsCanceled);
        }
    }

    private static async Task<byte[]> DrainAtPeerAsync(Socket peer, int count)
    {
        var (bytes, _) = await DrainAtPeerAsync(peer, count, untilEnd: false);
        return SHA256.HashData(bytes);
    }

    private static async Task<(byte[] Bytes, bool Ended)> DrainAtPeerAsync(Socket peer, int count, bool untilEnd)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await peer.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Timeout);
            if (n == 0) throw new EndOfStreamException($"end of stream after {read} of {count} bytes");
            read += n;
        }
        var ended = untilEnd && await peer.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout) == 0;
        Assert.True(ended || !untilEnd, "FIN after the last byte");
        return (buffer, ended);
    }

    /// <summary>An accepted socket on a loop of its own io_uring loops, with a connection over it and a plain .NET peer.</summary>
    private sealed class RingPair : IAsyncDisposable
    {
        private RingPair(EventLoops loops, PinnedBlockMemoryPool pool, Socket peer, EpollSocket local)
        {
            Loops = loops;
            Pool = pool;
            Peer = peer;
            Local = local;
            Connection = new SocketConnection(local, pool);
        }

        public EventLoops Loops { get; }

        public PinnedBlockMemoryPool Pool { get; }

        public Socket Peer { get; }

        public EpollSocket Local { get; }

        public SocketConnection Connection { get; }

        public SocketWriter Writer => Connection.Output;

        public static async Task<RingPair> StartAsync(bool smallWindow = false)
        {
            var loops = new EventLoops(2, io: IoMode.IoUring);
            var pool = new PinnedBlockMemoryPool(loops: loops);
            using var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listening.Listen(4);
            using var listener = EpollSocket.ForListener(listening, loops[0]);
            var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            // A small window on both sides, so a few hundred KiB fill the path and sends must wait for the peer.
            if (smallWindow) peer.ReceiveBufferSize = 64 * 1024;
            await peer.ConnectAsync((IPEndPoint)listening.LocalEndPoint!).WaitAsync(Timeout);
            var local = await EpollPair.AcceptAsync(listener, loops[1]);
            if (smallWindow) SetSendBuffer(local, 64 * 1024);
            return new RingPair(loops, pool, peer, local);
        }

        public Task<T> OnLoopAsync<T>(Func<T> function) => LoopCall<T>.RunAsync(Local.Loop, function);

        public async Task<byte[]> ReceiveAtPeerAsync(int count) => (await DrainAtPeerAsync(Peer, count, untilEnd: false)).Bytes;

        public async Task UntilAsync(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
                await Task.Delay(10);
            }
        }

        private static void SetSendBuffer(EpollSocket socket, int bytes)
        {
            const int SoSndBuf = 7;
            Assert.Equal(0, SocketSyscalls.SetInt(socket.Fd, SocketSyscalls.SOL_SOCKET, SoSndBuf, bytes));
        }

        public ValueTask DisposeAsync()
        {
            Local.Abort();
            Peer.Dispose();
            Loops.Dispose();
            Pool.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
