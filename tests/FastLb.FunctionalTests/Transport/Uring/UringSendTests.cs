using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Http;
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
        using var pair = await StartRingPairAsync();

        var completedAtOnce = await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("hello ring"u8);
            var flush = pair.Writer.FlushAsync();
            return flush.IsCompleted && !flush.Result.IsCompleted && !flush.Result.IsCanceled;
        });

        Assert.True(completedAtOnce, "a flush within the bound must not wait for the send's completion");
        Assert.Equal("hello ring"u8.ToArray(), await EpollPair.ReceiveExactlyAsync(pair.Peer, 10, Timeout));
        await Poll.UntilAsync(() => pair.Pool.Rented == 0, "the sent block went back to the pool", Timeout);
        Assert.Equal(10, pair.Writer.BytesSent);
    }

    [UringFact]
    public async Task PeerNotReading_FlushesCompleteUntilTheBound_ThenWait_BytesArriveInOrder()
    {
        using var pair = await StartRingPairAsync(smallWindow: true);
        var data = EpollPair.Pattern(8 * 1024 * 1024, seed: 21);

        var (offset, parked) = await FillUntilAFlushWaitsAsync(pair, data);
        Assert.True(pair.Writer.RingQueued > SocketWriter.RingSendBound, $"a flush waited with only {pair.Writer.RingQueued} B queued");

        var draining = DrainAtPeerAsync(pair.Peer, data.Length);
        var result = await parked.WaitAsync(Timeout);
        Assert.False(result.IsCompleted);
        // The rest from the loop, awaiting each flush there.
        await pair.OnLoopAsync(() => SendRestAsync(pair.Writer, data, offset)).Unwrap().WaitAsync(Timeout);

        Assert.Equal(SHA256.HashData(data), await draining);
        await Poll.UntilAsync(() => pair.Pool.Rented == 0, "every sent block went back to the pool", Timeout);
    }

    [UringFact]
    public async Task FlushOffTheLoop_WhileRingSendsWait_GoesAfterThem()
    {
        using var pair = await StartRingPairAsync(smallWindow: true);
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
        using var pair = await StartRingPairAsync(smallWindow: true);
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
        await Poll.UntilAsync(() => pair.Pool.Rented == 0, "every block went back to the pool", Timeout);
    }

    [UringFact]
    public async Task SyncCompleteThenDispose_OnTheLoop_BytesTheKernelTookStillArrive()
    {
        // The proxy's pattern for a last response: write, flush, complete, close, all in one turn of the loop, before
        // the send was even submitted. The send's SQE goes in ahead of the close's cancel, so the bytes arrive.
        using var pair = await StartRingPairAsync();
        Assert.True(await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8);
            var flush = pair.Writer.FlushAsync();
            pair.Connection.Dispose();
            return flush.IsCompleted;
        }));

        var received = await DrainAtPeerAsync(pair.Peer, 38, untilEnd: true);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), received.Bytes);
        await Poll.UntilAsync(() => pair.Pool.Rented == 0, "the block went back once the send completed", Timeout);
    }

    [UringFact]
    public async Task PeerResetsWithSendsInFlight_ConnectionAborted_FlushReportsTheEnd_BlocksReturned()
    {
        using var pair = await StartRingPairAsync(smallWindow: true);
        var data = EpollPair.Pattern(4 * 1024 * 1024, seed: 24);
        var (_, parked) = await FillUntilAFlushWaitsAsync(pair, data);

        pair.Peer.LingerState = new LingerOption(true, 0);
        pair.Peer.Close(); // RST: the send waiting for room fails

        var result = await parked.WaitAsync(Timeout);
        Assert.True(result.IsCompleted, "a failed send must end the flush as the peer being gone");
        Assert.True(pair.Writer.Failed);
        await Poll.UntilAsync(() => pair.Local.IsClosed, "a failed send aborts the connection", Timeout);
        var next = await pair.OnLoopAsync(() =>
        {
            pair.Writer.Write("more"u8);
            return pair.Writer.FlushAsync().AsTask();
        }).Unwrap();
        Assert.True(next.IsCompleted);
        pair.Connection.Dispose();
        await Poll.UntilAsync(() => pair.Pool.Rented == 0, "the unsent blocks went back to the pool", Timeout);
    }

    [UringFact]
    public async Task LoopsStopped_WithSendsInFlight_FlushFails_BlocksReturned()
    {
        using var pair = await StartRingPairAsync(smallWindow: true);
        var data = EpollPair.Pattern(4 * 1024 * 1024, seed: 25);
        var (_, parked) = await FillUntilAFlushWaitsAsync(pair, data);

        pair.OwnLoops!.Dispose(); // the loop cancels its sends in the kernel and reaps them before closing the ring

        var result = await parked.WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        Assert.True(pair.Local.IsClosed);
        Assert.Equal(0, pair.Pool.Rented);
    }

    /// <summary>
    /// Flushes <paramref name="data"/> 16 KiB at a time on the loop (one turn each, so every send is submitted in
    /// between) until a flush still waits after 300 ms: the kernel has no room and the ring holds more than the bound.
    /// </summary>
    private static async Task<(int Offset, Task<FlushResult> Parked)> FillUntilAFlushWaitsAsync(EpollPair pair, byte[] data)
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
        var buffer = await EpollPair.ReceiveExactlyAsync(peer, count, Timeout);
        var ended = untilEnd && await peer.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout) == 0;
        Assert.True(ended || !untilEnd, "FIN after the last byte");
        return (buffer, ended);
    }

    /// <summary>
    /// A pair on two io_uring loops of its own: the listener accepts on the first and the connection is served on the
    /// second. With <paramref name="smallWindow"/>, a small window on both sides, so a few hundred KiB fill the path
    /// and sends must wait for the peer.
    /// </summary>
    private static async Task<EpollPair> StartRingPairAsync(bool smallWindow = false)
    {
        var pair = await EpollPair.StartAsync(
            configurePeer: smallWindow ? static peer => peer.ReceiveBufferSize = 64 * 1024 : null,
            ownLoops: new EventLoops(2, io: IoMode.IoUring));
        if (smallWindow) SetSendBuffer(pair.Local, 64 * 1024);
        return pair;
    }

    private static void SetSendBuffer(EpollSocket socket, int bytes)
    {
        const int SoSndBuf = 7;
        Assert.Equal(0, SocketSyscalls.SetInt(socket.Fd, SocketSyscalls.SOL_SOCKET, SoSndBuf, bytes));
    }
}
