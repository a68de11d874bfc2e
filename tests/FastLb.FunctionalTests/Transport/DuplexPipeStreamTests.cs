using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport;

/// <summary>
/// Writes through <see cref="DuplexPipeStream"/> over a socket's own writer (what SslStream's records take): sent from
/// the caller's buffer when nothing waits before them, through the writer's blocks otherwise, and always in order.
/// </summary>
public sealed class DuplexPipeStreamTests
{
    private static readonly TimeSpan Timeout = EpollPair.Timeout;

    [Fact]
    public async Task Write_SmallRecord_CompletesAtOnce_PeerReceivesIt_HoldsNoBlock()
    {
        using var pair = await EpollPair.StartAsync();
        await using var stream = new DuplexPipeStream(pair.Reader, pair.Writer);

        var write = stream.WriteAsync("a record"u8.ToArray());
        Assert.True(write.IsCompletedSuccessfully, "room in the send buffer: the write must not wait");

        Assert.Equal("a record", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(8)));
        Assert.Equal(8, pair.Writer.BytesSent);
        Assert.Equal(0, pair.Pool.Rented);
    }

    [Fact]
    public async Task Write_AfterBytesWrittenButNotFlushed_KeepsTheirOrder()
    {
        using var pair = await EpollPair.StartAsync();
        await using var stream = new DuplexPipeStream(pair.Reader, pair.Writer);
        pair.Writer.Write("first "u8);

        await stream.WriteAsync("second"u8.ToArray()).AsTask().WaitAsync(Timeout);

        Assert.Equal("first second", Encoding.ASCII.GetString(await pair.ReceiveAtPeerAsync(12)));
        Assert.Equal(12, pair.Writer.BytesSent);
    }

    [Fact]
    public async Task Write_MoreThanTheKernelTakes_WaitsForThePeer_EveryByteInOrder()
    {
        const int Large = 8 * 1024 * 1024;
        var first = EpollPair.Pattern(Large, seed: 21);
        var second = EpollPair.Pattern(1000, seed: 22);
        using var pair = await EpollPair.StartAsync(peer => peer.ReceiveBufferSize = 64 * 1024);
        await using var stream = new DuplexPipeStream(pair.Reader, pair.Writer);

        var write = stream.WriteAsync(first).AsTask();
        await Task.Delay(100);
        Assert.False(write.IsCompleted, "8 MiB cannot fit in the socket buffers of a peer that does not read");
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        var drain = Task.Run(async () =>
        {
            while (received.Length < Large + second.Length)
            {
                var n = await pair.ReceiveOnceAtPeerAsync(buffer);
                if (n == 0) break;
                received.Write(buffer, 0, n);
            }
        });
        await write.WaitAsync(Timeout);
        await stream.WriteAsync(second).AsTask().WaitAsync(Timeout);
        await drain.WaitAsync(Timeout);

        Assert.Equal(SHA256.HashData([.. first, .. second]), SHA256.HashData(received.ToArray()));
        Assert.Equal(Large + second.Length, pair.Writer.BytesSent);
        Assert.Equal(0, pair.Pool.Rented);
    }
}
