using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>The pipe semantics <see cref="SocketReader"/> promises over an edge-triggered socket, against a plain .NET peer.</summary>
public sealed class SocketReaderTests
{
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    [Fact]
    public async Task BytesAndFinArrivedBeforeFirstRead_ReadReturnsBytes_ThenEndOfStream()
    {
        using var pair = await EpollPair.StartAsync();
        await pair.SendFromPeerAsync("hello");
        pair.Peer.Shutdown(SocketShutdown.Send);
        // Both edges (bytes, then FIN) are delivered before anything reads: the FIN's one edge is spent already
        // when the read that takes "hello" runs, so the reader must not wait for another.
        await EpollPair.WaitUntilAsync(() => pair.Local.PeerClosed, "the loop saw the peer's FIN");

        await pair.AssertTextThenEndOfStreamAsync(await pair.ReadAsync(), "hello");
        Assert.Equal(5, pair.Reader.BytesReceived);
    }

    [Fact]
    public async Task BytesAndFinSentBeforeAccept_ReadReturnsBytes_ThenEndOfStream()
    {
        using var pair = await EpollPair.StartAsync(beforeAccept: async peer =>
        {
            await peer.SendAsync(new ReadOnlyMemory<byte>("hello"u8.ToArray()), SocketFlags.None);
            peer.Shutdown(SocketShutdown.Send);
            await Task.Delay(50); // both queued on the not-yet-accepted socket: epoll reports them at registration
        });

        await pair.AssertTextThenEndOfStreamAsync(await pair.ReadAsync(), "hello");
    }

    [Fact]
    public async Task ParkedRead_PeerSendsAndCloses_ReadReturnsBytes_ThenEndOfStream()
    {
        using var pair = await EpollPair.StartAsync();
        var read = await pair.StartParkedReadAsync();

        await pair.SendFromPeerAsync("hello");
        pair.Peer.Shutdown(SocketShutdown.Send);

        await pair.AssertTextThenEndOfStreamAsync(await read, "hello");
    }

    [Fact]
    public async Task CancelPendingRead_FromAnotherThread_WakesParkedRead_LaterReadStillGetsBytes()
    {
        using var pair = await EpollPair.StartAsync();
        var read = await pair.StartParkedReadAsync();

        await Task.Run(pair.Reader.CancelPendingRead).WaitAsync(Timeout);
        var canceled = await read;
        Assert.True(canceled.IsCanceled);
        Assert.False(canceled.IsCompleted);
        Assert.True(canceled.Buffer.IsEmpty);
        pair.Reader.AdvanceTo(canceled.Buffer.Start);

        var next = await pair.StartParkedReadAsync("the cancellation was used up by the first read");
        await pair.SendFromPeerAsync("after");
        var result = await next;
        Assert.False(result.IsCanceled);
        Assert.Equal("after", EpollPair.Text(result.Buffer));
        pair.Reader.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task CancelPendingRead_WithNoReadPending_NextReadReturnsCanceledAtOnce()
    {
        using var pair = await EpollPair.StartAsync();
        pair.Reader.CancelPendingRead();

        var pending = pair.Reader.ReadAsync();
        Assert.True(pending.IsCompleted);
        var canceled = await pending.AsTask().WaitAsync(Timeout);
        Assert.True(canceled.IsCanceled);
        pair.Reader.AdvanceTo(canceled.Buffer.Start);

        await pair.SendFromPeerAsync("x");
        var result = await pair.ReadAsync();
        Assert.False(result.IsCanceled);
        Assert.Equal("x", EpollPair.Text(result.Buffer));
        pair.Reader.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task ExaminedButUnconsumed_NextReadWaitsForNewBytes_ThenReturnsOldAndNew()
    {
        using var pair = await EpollPair.StartAsync();
        await pair.SendFromPeerAsync("abc");
        var first = await pair.ReadAsync();
        Assert.Equal("abc", EpollPair.Text(first.Buffer));
        pair.Reader.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        var next = pair.ReadAsync();
        await Task.Delay(100);
        Assert.False(next.IsCompleted, "everything was examined: the read must wait for more");

        await pair.SendFromPeerAsync("def");
        var second = await next;
        Assert.Equal("abcdef", EpollPair.Text(second.Buffer));
        pair.Reader.AdvanceTo(second.Buffer.End);
    }

    [Fact]
    public async Task NothingExamined_NextReadReturnsSameBytesAtOnce()
    {
        using var pair = await EpollPair.StartAsync();
        await pair.SendFromPeerAsync("abc");
        var first = await pair.ReadAsync();
        pair.Reader.AdvanceTo(first.Buffer.Start);

        var next = pair.Reader.ReadAsync();
        Assert.True(next.IsCompleted, "unexamined bytes are returned without waiting");
        var second = await next.AsTask().WaitAsync(Timeout);
        Assert.Equal("abc", EpollPair.Text(second.Buffer));
        pair.Reader.AdvanceTo(second.Buffer.End);
    }

    [Fact]
    public async Task PartlyConsumed_NextReadReturnsTheRestAtOnce()
    {
        using var pair = await EpollPair.StartAsync();
        await pair.SendFromPeerAsync("abcdef");
        var first = await pair.ReadAsync();
        Assert.Equal("abcdef", EpollPair.Text(first.Buffer));
        var afterAbc = first.Buffer.GetPosition(3);
        pair.Reader.AdvanceTo(afterAbc, afterAbc);

        var next = pair.Reader.ReadAsync();
        Assert.True(next.IsCompleted, "the unexamined rest is returned without waiting");
        var second = await next.AsTask().WaitAsync(Timeout);
        Assert.Equal("def", EpollPair.Text(second.Buffer));
        pair.Reader.AdvanceTo(second.Buffer.End);
    }

    [Fact]
    public async Task OneMebibyteMessage_ArrivesIntactAcrossManyBlocks()
    {
        const int size = 1024 * 1024;
        var message = EpollPair.Pattern(size, seed: 5);
        using var pair = await EpollPair.StartAsync();
        var send = pair.SendFromPeerAsync(message);

        ReadResult result;
        while (true)
        {
            result = await pair.ReadAsync();
            Assert.False(result.IsCompleted, $"end of stream after {result.Buffer.Length} bytes");
            if (result.Buffer.Length >= size) break;
            pair.Reader.AdvanceTo(result.Buffer.Start, result.Buffer.End); // keep it all, wait for more
        }
        await send;

        Assert.Equal(size, result.Buffer.Length);
        Assert.False(result.Buffer.IsSingleSegment);
        var segments = 0;
        foreach (var segment in result.Buffer)
        {
            Assert.True(segment.Length <= PinnedBlockMemoryPool.DefaultBlockSize);
            segments++;
        }
        Assert.True(segments >= size / PinnedBlockMemoryPool.DefaultBlockSize, $"only {segments} segments");
        Assert.True(message.AsSpan().SequenceEqual(result.Buffer.ToArray()), "the bytes differ from what was sent");
        Assert.Equal(size, pair.Reader.BytesReceived);

        pair.Reader.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task Abort_WakesParkedReadWithError_PeerSeesReset()
    {
        using var pair = await EpollPair.StartAsync();
        var read = await pair.StartParkedReadAsync();

        pair.Local.Abort();

        await Assert.ThrowsAsync<ConnectionAbortedException>(() => read);
        Assert.Equal(ReceiveEnd.Local, pair.Reader.ReceiveEnd);
        var error = await Assert.ThrowsAsync<SocketException>(() => pair.ReceiveOnceAtPeerAsync(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact]
    public async Task PeerReset_WakesParkedReadWithConnectionReset()
    {
        using var pair = await EpollPair.StartAsync();
        var read = await pair.StartParkedReadAsync();

        pair.ResetPeer();

        await Assert.ThrowsAsync<ConnectionResetException>(() => read);
        Assert.Equal(ReceiveEnd.Reset, pair.Reader.ReceiveEnd);
        // The failure sticks: a further read reports it again instead of waiting or looking like end of stream.
        await Assert.ThrowsAsync<ConnectionResetException>(() => pair.ReadAsync());
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task PeerResetBeforeRead_ReadThrowsConnectionReset()
    {
        using var pair = await EpollPair.StartAsync();
        pair.ResetPeer();
        await EpollPair.WaitUntilAsync(() => pair.Local.PeerClosed, "the loop saw the reset");

        await Assert.ThrowsAsync<ConnectionResetException>(() => pair.ReadAsync());
        Assert.Equal(ReceiveEnd.Reset, pair.Reader.ReceiveEnd);
    }
}
