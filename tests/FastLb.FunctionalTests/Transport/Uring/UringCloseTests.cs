using System.Buffers;
using System.Net.Sockets;
using System.Text;
using FastLb.FunctionalTests.Http;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>
/// Sockets of a ring loop close with an IORING_OP_CLOSE in the loop's next submission: the peer still sees the FIN
/// at once, and a descriptor number the kernel hands to the next connection right after never reaches the old one.
/// </summary>
public sealed class UringCloseTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FinBound = TimeSpan.FromSeconds(5);

    [UringFact]
    public async Task Dispose_OffTheLoop_ClosedThroughTheRing_PeerSeesEndOfStreamPromptly()
    {
        // The loop sleeps in io_uring_enter: the queued close must wake it, not wait for the next event.
        await using var listener = await RingListener.StartAsync();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        var accepted = Assert.Single(await listener.TakeAsync(1));
        var closesBefore = listener.Loops[0].RingCloses;

        accepted.Dispose();

        Assert.Equal(0, await client.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(FinBound));
        Assert.Equal(closesBefore + 1, listener.Loops[0].RingCloses);
    }

    [UringFact]
    public async Task Dispose_OnTheLoop_AfterAResponse_PeerReadsItThenEndOfStream()
    {
        await using var listener = await RingListener.StartAsync();
        using var pool = new PinnedBlockMemoryPool();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        var accepted = Assert.Single(await listener.TakeAsync(1));

        // As the HTTP proxy ends a Connection: close exchange: the writer's FIN is left to the close (no shutdown()).
        await (await listener.OnLoopAsync(async () =>
        {
            var connection = new SocketConnection(accepted, pool);
            accepted.LeaveFinToClose();
            connection.Output.Write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"u8);
            await connection.Output.CompleteAsync();
            connection.Dispose();
        }));

        var received = await ReadToEndAsync(client).WaitAsync(FinBound);
        Assert.Equal("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", received);
    }

    [UringFact]
    public async Task ManyShortConnections_DescriptorNumbersReused_EveryAnswerGoesToItsOwnClient()
    {
        // Each connection is accepted, read, answered and closed through the ring, so the kernel hands the number just
        // closed to the next connection within an iteration or two: an operation or close aimed at the old socket
        // would land on the new one and show up as a wrong or missing answer.
        await using var listener = await RingListener.StartAsync();
        using var pool = new PinnedBlockMemoryPool();
        using var stop = new CancellationTokenSource();
        var served = 0;
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var batch = await listener.OnLoopAsync(() =>
                {
                    var taken = new List<EpollSocket>();
                    while (listener.Socket.TakeRingAccepted(out _, listener.Loops[0]) is { } s) taken.Add(s);
                    listener.Socket.ArmRingAccepts(RingAcceptor.Slots);
                    foreach (var s in taken) _ = AnswerAsync(s, pool).ContinueWith(_ => Interlocked.Increment(ref served), TaskScheduler.Default);
                    return taken.Count;
                });
                if (batch == 0) await Task.Delay(1);
            }
        });
        const int Connections = 600;
        const int Concurrency = 6;
        var next = -1;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < Connections)
                {
                    using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
                    var request = $"client {i:D5}\n";
                    await client.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None).WaitAsync(Timeout);
                    Assert.Equal("echo " + request, await ReadToEndAsync(client).WaitAsync(Timeout));
                }
            }))).WaitAsync(TimeSpan.FromMinutes(2));
        }
        finally
        {
            await stop.CancelAsync();
            await serving.WaitAsync(Timeout);
        }
        await Poll.UntilAsync(() => Volatile.Read(ref served) == Connections, "every connection was served and closed");
        Assert.True(listener.Loops[0].RingCloses >= Connections, $"{listener.Loops[0].RingCloses} closes went through the ring");
    }

    /// <summary>Reads one line, answers "echo " + it, and closes (FIN from the close), on the socket's loop.</summary>
    private static async Task AnswerAsync(EpollSocket socket, PinnedBlockMemoryPool pool)
    {
        var connection = new SocketConnection(socket, pool);
        try
        {
            while (true)
            {
                var result = await connection.Input.ReadAsync();
                var newline = result.Buffer.PositionOf((byte)'\n');
                if (newline is { } end)
                {
                    var line = result.Buffer.Slice(0, result.Buffer.GetPosition(1, end));
                    connection.Output.Write("echo "u8);
                    foreach (var segment in line) connection.Output.Write(segment.Span);
                    connection.Input.AdvanceTo(line.End);
                    break;
                }
                connection.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                if (result.IsCompleted) break;
            }
            socket.LeaveFinToClose();
            await connection.Output.CompleteAsync();
        }
        finally
        {
            connection.Dispose();
        }
    }

    private static async Task<string> ReadToEndAsync(Socket client)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0) return text.ToString();
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }
}
