using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>How <see cref="SocketWriter"/> flushes, parks on a full send buffer, finishes and fails, against a plain .NET peer.</summary>
public sealed class SocketWriterTests
{
    private const int Large = 8 * 1024 * 1024;
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    // A small receive window on the peer, so a few hundred KiB fill the path and a large flush must wait.
    private static void SmallReceiveWindow(Socket peer) => peer.ReceiveBufferSize = 64 * 1024;

    [Fact]
    public async Task SmallWrite_FlushCompletesSynchronously_PeerReceivesBytes()
    {
        using var pair = await EpollPair.StartAsync();
        Write(pair.Writer, "hi there"u8);

        var flush = pair.Writer.FlushAsync();
        Assert.True(flush.IsCompleted, "room in the send buffer: the flush must not wait");
        var result = await flush.AsTask().WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        Assert.False(result.IsCompleted);

        Assert.Equal("hi there", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(8)));
        Assert.Equal(8, pair.Writer.BytesSent);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task LargeTransfer_FlushParksUntilPeerDrains_BytesArriveIntact_CompleteSendsFin()
    {
        var data = EpollPair.Pattern(Large, seed: 8);
        using var pair = await EpollPair.StartAsync(SmallReceiveWindow);
        Write(pair.Writer, data);

        var flush = pair.Writer.FlushAsync();
        Assert.False(flush.IsCompleted, "8 MiB cannot fit in the socket buffers of a peer that does not read");
        var flushed = flush.AsTask();
        await Task.Delay(200);
        Assert.False(flushed.IsCompleted, "the flush completed while the peer had not read anything");
        Assert.InRange(pair.Writer.BytesSent, 1, Large - 1);

        var (received, hash) = await DrainAtPeerAsync(pair, Large);
        var result = await flushed.WaitAsync(Timeout);

        Assert.False(result.IsCanceled);
        Assert.False(result.IsCompleted);
        Assert.Equal(Large, received);
        Assert.Equal(SHA256.HashData(data), hash);
        Assert.Equal(Large, pair.Writer.BytesSent);
        Assert.Equal(0, pair.Pool.Rented);

        await pair.Writer.CompleteAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16]));
    }

    [Fact]
    public async Task CancelPendingFlush_WakesParkedFlush_NextFlushSendsTheRest()
    {
        var data = EpollPair.Pattern(Large, seed: 9);
        using var pair = await EpollPair.StartAsync(SmallReceiveWindow);
        Write(pair.Writer, data);
        var flush = pair.Writer.FlushAsync();
        Assert.False(flush.IsCompleted, "8 MiB cannot fit in the socket buffers of a peer that does not read");
        var flushed = flush.AsTask();
        await Task.Delay(50);

        await Task.Run(pair.Writer.CancelPendingFlush).WaitAsync(Timeout);
        var canceled = await flushed.WaitAsync(Timeout);
        Assert.True(canceled.IsCanceled);
        Assert.False(canceled.IsCompleted);
        Assert.True(pair.Writer.BytesSent < Large);

        // Canceling only stopped the wait: the unsent bytes are still buffered and the next flush sends them.
        var drain = DrainAtPeerAsync(pair, Large);
        var result = await pair.Writer.FlushAsync().AsTask().WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        Assert.False(result.IsCompleted);
        var (received, hash) = await drain;
        Assert.Equal(Large, received);
        Assert.Equal(SHA256.HashData(data), hash);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task Complete_WithUnflushedBytes_SendsThemThenFin()
    {
        using var pair = await EpollPair.StartAsync();
        Write(pair.Writer, "bye"u8);

        pair.Writer.Complete();

        Assert.Equal("bye", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(3)));
        Assert.Equal(0, await pair.ReceiveOnceAtPeerAsync(new byte[16]));
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task CompleteAsync_WithException_ResetsPeerAndDropsUnflushedBytes()
    {
        using var pair = await EpollPair.StartAsync();
        Write(pair.Writer, "partial"u8);

        await pair.Writer.CompleteAsync(new InvalidOperationException("source failed")).AsTask().WaitAsync(Timeout);

        var error = await Assert.ThrowsAsync<SocketException>(() => pair.ReceiveOnceAtPeerAsync(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task FlushAfterPeerReset_ReportsCompleted_AndHoldsNoBlocks()
    {
        using var pair = await EpollPair.StartAsync();
        pair.ResetPeer();
        await EpollPair.WaitUntilAsync(() => pair.Local.PeerClosed, "the loop saw the reset");

        Write(pair.Writer, "late"u8);
        var result = await pair.Writer.FlushAsync().AsTask().WaitAsync(Timeout);

        Assert.True(result.IsCompleted, "a flush to a reset peer must report the reader gone");
        Assert.True(pair.Writer.Failed);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task ParkedFlush_PeerResets_FlushReportsCompleted()
    {
        using var pair = await EpollPair.StartAsync(SmallReceiveWindow);
        Write(pair.Writer, EpollPair.Pattern(Large, seed: 10));
        var flush = pair.Writer.FlushAsync();
        Assert.False(flush.IsCompleted, "8 MiB cannot fit in the socket buffers of a peer that does not read");
        var flushed = flush.AsTask();
        await Task.Delay(50);

        pair.ResetPeer();

        var result = await flushed.WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        Assert.True(pair.Writer.Failed);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task ParkedFlush_LocalAbort_FlushReportsCompleted_PeerSeesReset()
    {
        using var pair = await EpollPair.StartAsync(SmallReceiveWindow);
        Write(pair.Writer, EpollPair.Pattern(Large, seed: 11));
        var flush = pair.Writer.FlushAsync();
        Assert.False(flush.IsCompleted, "8 MiB cannot fit in the socket buffers of a peer that does not read");
        var flushed = flush.AsTask();
        await Task.Delay(50);

        pair.Local.Abort();

        var result = await flushed.WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        Assert.True(pair.Writer.Failed);
        Assert.Equal(0, pair.Pool.Rented);
        // Whatever was queued before the abort may still be read, but the stream ends in a reset, not a FIN.
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (await pair.ReceiveOnceAtPeerAsync(buffer) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    /// <summary>Copies <paramref name="data"/> into the writer block by block, as a caller filling GetSpan would.</summary>
    private static void Write(PipeWriter writer, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var span = writer.GetSpan(1);
            var n = Math.Min(span.Length, data.Length);
            data[..n].CopyTo(span);
            writer.Advance(n);
            data = data[n..];
        }
    }

    /// <summary>Reads <paramref name="count"/> bytes at the peer; returns how many arrived and their SHA-256.</summary>
    private static async Task<(long Received, byte[] Hash)> DrainAtPeerAsync(EpollPair pair, long count)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long received = 0;
        while (received < count)
        {
            var n = await pair.ReceiveOnceAtPeerAsync(buffer);
            if (n == 0) break;
            hash.AppendData(buffer, 0, n);
            received += n;
        }
        return (received, hash.GetHashAndReset());
    }
}
