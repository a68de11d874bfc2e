using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using FastLb.Core.Metrics;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tcp;

public class TcpRelayTests
{
    private static readonly TimeSpan Timeout = TcpHarness.Timeout;
    private const long BigTransfer = 64L * 1024 * 1024;

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_64MiBBothWaysAtOnce_ArrivesIntact(string relay)
    {
        var backendReceived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var backendSent = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = LoopbackBackend.Start("big", async (socket, ct) =>
        {
            var receiving = ReceiveAllHashedAsync(socket, ct);
            var sending = SendRandomHashedAsync(socket, seed: 2, ct);
            backendSent.TrySetResult(await sending);
            socket.Shutdown(SocketShutdown.Send);
            backendReceived.TrySetResult(await receiving);
        });
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("big", [backend.EndPoint]), relay: relay);
        await using var client = await harness.ConnectAsync();

        var clientReceiving = ReceiveAllHashedAsync(client.Socket, CancellationToken.None);
        var clientSent = await SendRandomHashedAsync(client.Socket, seed: 1, CancellationToken.None).WaitAsync(Timeout);
        client.ShutdownSend();
        var clientReceived = await clientReceiving.WaitAsync(Timeout);

        Assert.Equal(clientSent, await backendReceived.Task.WaitAsync(Timeout));
        Assert.Equal(await backendSent.Task.WaitAsync(Timeout), clientReceived);
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");
        Assert.Equal(0, harness.Server.Transport.RentedBlocks);
        Assert.Equal(0, harness.Server.Transport.SplicePipes.Rented);
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_ManyShortConnections_PipesReusedAndAllClosedOnStop(string relay)
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("echo", [backend.EndPoint]), relay: relay);
        var pipes = harness.Server.Transport.SplicePipes;

        for (var i = 0; i < 20; i++)
        {
            await using var client = await harness.ConnectAsync();
            await client.SendAsync("ping").WaitAsync(Timeout);
            Assert.Equal("ping", await client.ReceiveStringAsync(4).WaitAsync(Timeout));
        }
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connections ended");

        // A pipe is rented only while bytes are in flight, so one-at-a-time connections share a couple of pipes.
        Assert.Equal(0, pipes.Rented);
        Assert.InRange(pipes.Open, relay == "splice" ? 1 : 0, relay == "splice" ? 2 : 0);
        await harness.Server.StopAsync(TimeSpan.Zero).WaitAsync(Timeout);
        Assert.Equal(0, pipes.Open); // every pipe fd closed
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_ClientHalfCloses_BackendReplyStillArrives(string relay)
    {
        // The backend answers only after the client's FIN, so the reply must flow on a half-closed connection.
        await using var backend = LoopbackBackend.Start("reply", async (socket, ct) =>
        {
            var total = 0;
            var buffer = new byte[1024];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0) total += n;
            await socket.SendAsync(Encoding.ASCII.GetBytes($"got {total}"), SocketFlags.None, ct);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("reply", [backend.EndPoint]), relay: relay);
        await using var client = await harness.ConnectAsync();

        await client.SendAsync("hello").WaitAsync(Timeout);
        client.ShutdownSend();

        Assert.Equal("got 5", await client.ReadStringToEndAsync().WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_BackendHalfCloses_ClientCanStillSend(string relay)
    {
        var backendGot = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = LoopbackBackend.Start("early-fin", async (socket, ct) =>
        {
            await socket.SendAsync("bye"u8.ToArray(), SocketFlags.None, ct);
            socket.Shutdown(SocketShutdown.Send);
            var received = new MemoryStream();
            var buffer = new byte[1024];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0) received.Write(buffer, 0, n);
            backendGot.TrySetResult(Encoding.ASCII.GetString(received.ToArray()));
        });
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("early-fin", [backend.EndPoint]), relay: relay);
        await using var client = await harness.ConnectAsync();

        Assert.Equal("bye", await client.ReadStringToEndAsync().WaitAsync(Timeout));
        await client.SendAsync("late data").WaitAsync(Timeout);
        client.ShutdownSend();

        Assert.Equal("late data", await backendGot.Task.WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_ClientResets_BackendIsReset(string relay)
    {
        var firstByte = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backendError = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = LoopbackBackend.Start("rst", async (socket, ct) =>
        {
            var buffer = new byte[1024];
            await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            firstByte.TrySetResult();
            try
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
                backendError.TrySetResult(n == 0 ? SocketError.Disconnecting : SocketError.Success);
            }
            catch (SocketException e)
            {
                backendError.TrySetResult(e.SocketErrorCode);
            }
        });
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("rst", [backend.EndPoint]), relay: relay);
        var client = await harness.ConnectAsync();
        await client.SendAsync("x").WaitAsync(Timeout);
        await firstByte.Task.WaitAsync(Timeout);

        client.Reset();

        // Disconnecting would mean a FIN: the proxy must pass the reset on, not turn it into a clean close.
        Assert.Equal(SocketError.ConnectionReset, await backendError.Task.WaitAsync(Timeout));
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Relay_BackendResets_ClientIsReset(string relay)
    {
        await using var backend = LoopbackBackend.Start("rst", async (socket, ct) =>
        {
            await socket.ReceiveAsync(new byte[16], SocketFlags.None, ct);
            socket.LingerState = new LingerOption(true, 0);
            socket.Dispose();
        });
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("rst", [backend.EndPoint]), relay: relay);
        await using var client = await harness.ConnectAsync();

        await client.SendAsync("x").WaitAsync(Timeout);

        var e = await Assert.ThrowsAsync<SocketException>(() => client.ReadToEndAsync().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Idle_SilentConnection_ClosedAfterIdleTimeout(string relay)
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        var service = TestTables.Service("idle", [backend.EndPoint], idleTimeout: TimeSpan.FromMilliseconds(500));
        await using var harness = await TcpHarness.StartAsync(service, relay: relay);
        await using var client = await harness.ConnectAsync();
        await client.SendAsync("ping").WaitAsync(Timeout);
        Assert.Equal("ping", await client.ReceiveStringAsync(4).WaitAsync(Timeout));
        var silentSince = Environment.TickCount64;

        Assert.Empty(await client.ReadToEndAsync().WaitAsync(Timeout)); // a clean FIN, no data

        Assert.InRange(Environment.TickCount64 - silentSince, 400, 5_000);
        await TcpHarness.WaitUntilAsync(() => harness.Server.LiveConnections == 0, "the connection ended");
        Assert.Equal(0, harness.State(backend.EndPoint).Live);
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task DrainDeadline_LiveConnection_CutsBothSides(string relay)
    {
        await using var backend = LoopbackBackend.Start(LoopbackBackendMode.Echo);
        await using var harness = await TcpHarness.StartAsync(TestTables.Service("drain", [backend.EndPoint], drainTimeout: TimeSpan.Zero), relay: relay);
        await using var client = await harness.ConnectAsync();
        await client.SendAsync("ping").WaitAsync(Timeout);
        Assert.Equal("ping", await client.ReceiveStringAsync(4).WaitAsync(Timeout));
        var state = harness.State(backend.EndPoint);
        Assert.Equal(1, state.Live);
        // Zero-byte receives: a connection with nothing in flight holds no buffer.
        await TcpHarness.WaitUntilAsync(() => harness.Server.Transport.RentedBlocks == 0, "the idle connection returned its buffers");

        // A backend drained with a deadline already past: the next drain tick cuts what it still carries.
        harness.Controller.Drain("drain", "main", TestTables.Address(backend.EndPoint).ToString());
        harness.Controller.Tick();
        Assert.Equal(1, state.Traffic.Total(TrafficField.DrainCuts));

        var e = await Assert.ThrowsAsync<SocketException>(() => client.ReadToEndAsync().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        await TcpHarness.WaitUntilAsync(() => state.Live == 0 && harness.Server.LiveConnections == 0, "the connection was released");
        Assert.Equal(1, state.TotalConnections);
        Assert.Equal(0, harness.Server.Transport.SplicePipes.Rented);
    }

    private static async Task<byte[]> SendRandomHashedAsync(Socket socket, int seed, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var chunk = new byte[64 * 1024];
        for (long sent = 0; sent < BigTransfer; sent += chunk.Length)
        {
            random.NextBytes(chunk);
            hash.AppendData(chunk);
            var remaining = chunk.AsMemory();
            while (!remaining.IsEmpty)
            {
                var n = await socket.SendAsync(remaining, SocketFlags.None, ct);
                remaining = remaining[n..];
            }
        }
        return hash.GetHashAndReset();
    }

    private static async Task<byte[]> ReceiveAllHashedAsync(Socket socket, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }
        Assert.Equal(BigTransfer, total);
        return hash.GetHashAndReset();
    }
}
