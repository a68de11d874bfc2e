using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>What a <see cref="SocketConnection"/> holds while idle, and how it closes, against a plain .NET peer.</summary>
public sealed class SocketConnectionTests
{
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    [Fact]
    public async Task IdleAfterRoundTrip_ReaderAndWriterHoldNoPooledBlocks()
    {
        using var pair = await EpollPair.StartAsync();
        Assert.Equal(0, pair.Pool.Rented);

        await pair.SendFromPeerAsync("ping");
        var request = await pair.ReadAsync();
        Assert.Equal("ping", EpollPair.Text(request.Buffer));
        Assert.True(pair.Pool.Rented > 0, "unconsumed bytes live in a pooled block");
        pair.Reader.AdvanceTo(request.Buffer.End);
        Assert.Equal(0, pair.Pool.Rented);

        "pong"u8.CopyTo(pair.Writer.GetSpan(4));
        pair.Writer.Advance(4);
        Assert.True(pair.Pool.Rented > 0, "unflushed bytes live in a pooled block");
        var flush = await pair.Writer.FlushAsync().AsTask().WaitAsync(Timeout);
        Assert.False(flush.IsCompleted);
        Assert.Equal("pong", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(4)));
        // On io_uring a flush on the loop's thread hands its block to the ring, which returns it when the send completed.
        await EpollPair.WaitUntilAsync(() => pair.Pool.Rented == 0, "the sent block went back to the pool");

        // A read parked on an idle connection holds no block either.
        var parked = await pair.StartParkedReadAsync();
        Assert.Equal(0, pair.Pool.Rented);

        pair.Reader.CancelPendingRead();
        var canceled = await parked;
        Assert.True(canceled.IsCanceled);
        pair.Reader.AdvanceTo(canceled.Buffer.End);
        Assert.Equal(0, pair.Pool.Rented);

        // The cancel woke the read through the socket, so the next read finds nothing behind that wake-up
        // (a receive that would block) and parks again: still without a block.
        var again = await pair.StartParkedReadAsync();
        Assert.Equal(0, pair.Pool.Rented);

        await pair.SendFromPeerAsync("x");
        var last = await again;
        Assert.Equal("x", EpollPair.Text(last.Buffer));
        pair.Reader.AdvanceTo(last.Buffer.End);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task Dispose_ReturnsBlocksHeldByUnconsumedInputAndUnflushedOutput()
    {
        using var pair = await EpollPair.StartAsync();
        await pair.SendFromPeerAsync("unread");
        var result = await pair.ReadAsync();
        pair.Reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        "unsent"u8.CopyTo(pair.Writer.GetSpan(6));
        pair.Writer.Advance(6);
        Assert.Equal(2, pair.Pool.Rented);

        pair.Connection.Dispose();

        // Completing sends "unsent" first; on io_uring from the loop's thread that block goes back when the send completed.
        await EpollPair.WaitUntilAsync(() => pair.Pool.Rented == 0, "both blocks went back to the pool");
        Assert.True(pair.Local.IsClosed);
    }

    [Fact]
    public async Task Close_WakesParkedReadToEndOfStream_PeerSeesFin()
    {
        using var pair = await EpollPair.StartAsync();
        var read = await pair.StartParkedReadAsync();

        pair.Connection.Close();

        var result = await read;
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16]));
    }

    [Fact]
    public async Task LingerAsync_DiscardsLateBytes_ReturnsOncePeerCloses()
    {
        using var pair = await EpollPair.StartAsync();
        pair.Reader.Complete();
        await pair.Writer.CompleteAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16])); // our FIN

        // Linger allows 30 s; finishing within the 5 s test timeout means it returned on the peer's FIN.
        var linger = pair.Connection.LingerAsync(TimeSpan.FromSeconds(30));
        await pair.SendFromPeerAsync("late bytes");
        pair.Peer.Shutdown(SocketShutdown.Send);
        await linger.WaitAsync(Timeout);
    }

    [Fact]
    public async Task LingerAsync_PeerStaysOpen_ReturnsAfterTimeout()
    {
        using var pair = await EpollPair.StartAsync();
        pair.Reader.Complete();
        await pair.Writer.CompleteAsync().AsTask().WaitAsync(Timeout);

        // Returning within the test timeout shows it gave up; not before ~200 ms shows it did wait for a FIN.
        var stopwatch = Stopwatch.StartNew();
        await pair.Connection.LingerAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(Timeout);

        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(150), $"linger returned after {stopwatch.Elapsed}");
    }
}
