using System.Net;
using System.Net.Sockets;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>
/// The splice relay over a real MTU. splice(2) from a TCP socket into a pipe also stops when the pipe runs out of
/// slots (one per skb), so with 1500-byte packets a splice shorter than the pipe does not mean the socket is empty.
/// A backend in its own network namespace (veth, MTU 1500, offloads off) sends 8 MiB in one burst and then waits for
/// the client's reply: the client must get every byte without waiting for a new packet to wake the relay.
/// </summary>
/// <remarks>
/// Over veth the slots usually fill by bytes: a veth hands the sender's page fragments to the receiver without
/// copying and TCP coalesces adjacent ranges of one page, so most slots hold a full page. Not always: with the 4-slot
/// pipe a burst once ended short of a page boundary (a splice under 16 KiB with more queued), and a relay that took
/// such a read for "drained" waited for an edge that never came. The relay now parks only after a splice that moved
/// fewer bytes than the pipe has slots (which cannot have run out of slots), and this test guards that end to end.
/// </remarks>
/// </remarks>
public sealed class SpliceRealMtuTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private const int Burst = 8 * 1024 * 1024;

    // Listens inside the namespace, prints its port, sends the burst to the first client, waits for one byte, answers "done".
    private const string Backend = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((sys.argv[1], 0)); s.listen(8)
        print(s.getsockname()[1], flush=True)
        for _ in range(int(sys.argv[3])):
            c, _ = s.accept()
            c.sendall(b'x' * int(sys.argv[2]))
            if c.recv(1): c.sendall(b'done')
            c.close()
        """;

    [NamespaceTheory]
    [InlineData(1024 * 1024)] // the default pipe: 256 slots
    [InlineData(16 * 1024)]   // 4 slots: a splice of 1448-byte packets is cut by the slots, long before the bytes
    public async Task BurstThenWaitForReply_OverVethAtMtu1500_EveryByteArrivesWithoutAStall(int pipeSize)
    {
        const int rounds = 5;
        using var ns = NetworkNamespace.Create();
        using var backend = ns.Start("python3", "-c", Backend, ns.PeerAddress.ToString(), Burst.ToString(), rounds.ToString());
        try
        {
            var portLine = await backend.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
            var endPoint = new IPEndPoint(ns.PeerAddress, int.Parse(portLine ?? throw new InvalidOperationException(await backend.StandardError.ReadToEndAsync())));
            await using var harness = await TcpHarness.StartAsync(TestTables.Service("burst", [endPoint], idleTimeout: TimeSpan.FromSeconds(60)), relay: "splice");
            harness.Server.Transport.UseSplicePipeSize(pipeSize);
            var buffer = new byte[256 * 1024];
            for (var round = 0; round < rounds; round++)
            {
                await using var client = await harness.ConnectAsync();
                // A stalled relay would hold the last bytes until idle_timeout (60 s): the 15 s deadline catches it.
                using var deadline = new CancellationTokenSource(Timeout);
                long received = 0;
                while (received < Burst)
                {
                    var n = await client.Socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, Burst - received)), SocketFlags.None, deadline.Token);
                    Assert.True(n > 0, $"round {round}: the connection ended after {received} of {Burst} bytes");
                    received += n;
                }
                await client.Socket.SendAsync("y"u8.ToArray(), SocketFlags.None, deadline.Token);
                var reply = new byte[4];
                var got = 0;
                while (got < 4)
                {
                    var n = await client.Socket.ReceiveAsync(reply.AsMemory(got), SocketFlags.None, deadline.Token);
                    Assert.True(n > 0, $"round {round}: no reply after the burst");
                    got += n;
                }
                Assert.Equal("done"u8.ToArray(), reply);
            }
        }
        finally
        {
            if (!backend.HasExited) backend.Kill(entireProcessTree: true);
        }
    }
}
