using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Connection behaviour: upstream keep-alive reuse and retry, large streamed bodies, 100-continue, upgrade tunnels.</summary>
public sealed class HttpConnectionTests
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;

    [Fact]
    public async Task KeepAlive_TwentySequentialRequests_OneUpstreamConnection()
    {
        await using var backend = RawHttpBackend.Start("ka-1");
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        for (var i = 0; i < 20; i++)
        {
            var response = await client.GetAsync($"/r{i}").WaitAsync(Timeout);
            Assert.True(response.Status == 200 && response.Backend == "ka-1", $"request {i}: {response}");
        }

        Assert.Equal(20, backend.Requests.Count);
        Assert.True(backend.AcceptedConnections == 1, $"20 keep-alive requests took {backend.AcceptedConnections} upstream connections");
    }

    [Fact]
    public async Task Retry_BackendClosesIdleConnectionRightAfterAnswering_NextGetsStillSucceed()
    {
        // The backend answers without Connection: close, then closes: the pooled connection FastLb holds is dead.
        await using var backend = RawHttpBackend.Start("flaky-1", async (request, connection, ct) =>
        {
            await connection.SendAsync(RawHttpBackend.Ok("flaky-1"), ct);
            return false;
        });
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        for (var i = 0; i < 8; i++)
        {
            var response = await client.GetAsync($"/r{i}").WaitAsync(Timeout);
            Assert.True(response.Status == 200 && response.Backend == "flaky-1", $"request {i}: {response}");
            if (i % 2 == 1) await Task.Delay(30); // let the FIN arrive first half the time; race it the other half
        }

        Assert.Equal(8, backend.Requests.Count);
        Assert.Equal(8, backend.AcceptedConnections);
    }

    [Fact]
    public async Task Retry_ReusedConnectionClosedBeforeAnyResponseByte_GetRetriedOnFreshConnection()
    {
        await using var backend = StartOneRequestPerConnectionBackend();
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        for (var i = 0; i < 5; i++)
        {
            var response = await client.GetAsync($"/r{i}").WaitAsync(Timeout);
            Assert.True(response.Status == 200 && response.BodyText == $"/r{i}", $"request {i}: {response}");
        }
    }

    [Fact]
    public async Task Retry_ReusedConnectionClosedOnPostWithBody_NotRetried502()
    {
        await using var backend = StartOneRequestPerConnectionBackend();
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.GetAsync("/warm").WaitAsync(Timeout)).Status);

        var response = await client.RequestAsync("POST /order HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello").WaitAsync(Timeout);

        Assert.True(response.Status == 502, $"expected 502 for a non-idempotent request on a dead reused connection, got:\n{response}");
        Assert.Single(backend.Requests, r => r.Target == "/order");
    }

    [Fact]
    public async Task ChunkedUpload_16MiB_ArrivesIntact()
    {
        await using var backend = RawHttpBackend.Start("up-1", async (request, connection, ct) =>
        {
            var hash = Convert.ToHexString(SHA256.HashData(request.Body));
            await connection.SendAsync(RawHttpBackend.Ok("up-1", $"{request.Body.Length} {hash}"), ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();
        var data = Payload(16 * 1024 * 1024, seed: 1);
        var body = HttpBodies.Chunked(data, [1, 100, 8191, 65536, 1_000_003, 17, 4096]);

        var head = Encoding.ASCII.GetBytes("POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
        var request = new byte[head.Length + body.Length];
        head.CopyTo(request, 0);
        body.CopyTo(request, head.Length);

        var send = client.SendAsync(request);
        var response = await client.ReadFinalResponseAsync(timeout: TimeSpan.FromSeconds(30)).WaitAsync(TimeSpan.FromSeconds(30));
        await send.WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal($"{data.Length} {Convert.ToHexString(SHA256.HashData(data))}", response.BodyText);
    }

    [Fact]
    public async Task ChunkedDownload_16MiB_ArrivesIntact()
    {
        var data = Payload(16 * 1024 * 1024, seed: 2);
        var body = HttpBodies.Chunked(data, [65536, 3, 1_000_000, 8192, 1]);
        await using var backend = RawHttpBackend.Start("down-1", async (request, connection, ct) =>
        {
            await connection.SendAsync("HTTP/1.1 200 OK\r\nx-backend: down-1\r\nTransfer-Encoding: chunked\r\n\r\n", ct);
            for (var at = 0; at < body.Length; at += 256 * 1024)
                await connection.SendAsync(body.AsMemory(at, Math.Min(256 * 1024, body.Length - at)), ct);
            return true;
        });
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync("GET /download HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);
        var response = await client.ReadFinalResponseAsync(timeout: TimeSpan.FromSeconds(30)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(200, response.Status);
        Assert.Equal(data.Length, response.Body.Length);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(response.Body)));
        Assert.Equal(200, (await client.GetAsync("/after").WaitAsync(Timeout)).Status);
    }

    [Fact]
    public async Task ExpectContinue_BackendsInterimRelayed_ThenBodyThenFinal()
    {
        await using var backend = RawHttpBackend.Start("cont-1", async (request, connection, ct) =>
        {
            await connection.SendAsync(RawHttpBackend.Ok("cont-1", "got " + request.BodyText), ct);
            return true;
        });
        backend.ContinueResponse = "HTTP/1.1 100 Continue\r\nx-backend: cont-1\r\n\r\n";
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync("POST /form HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n").WaitAsync(Timeout);
        var interim = await client.ReadResponseAsync().WaitAsync(Timeout);
        Assert.True(interim.Status == 100, $"expected 100 Continue before sending the body, got:\n{interim}");
        Assert.Equal("cont-1", interim.Backend);
        Assert.True(backend.Requests.IsEmpty);

        await client.SendAsync("hello world").WaitAsync(Timeout);
        var response = await client.ReadFinalResponseAsync().WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal("got hello world", response.BodyText);
        Assert.True(Assert.Single(backend.Requests).Head.HasToken("expect", "100-continue"));
    }

    [Fact]
    public async Task Upgrade_101FromBackend_TunnelEchoesAndCountsAsLiveUntilClosed()
    {
        await using var backend = RawHttpBackend.Start("ws-1", async (request, connection, ct) =>
        {
            if (!request.Head.HasToken("upgrade", "websocket") || !request.Head.HasToken("connection", "upgrade"))
            {
                await connection.SendAsync(RawHttpBackend.Ok("ws-1", "not an upgrade"), ct);
                return true;
            }
            await connection.SendAsync("HTTP/1.1 101 Switching Protocols\r\nx-backend: ws-1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ct);
            await connection.EchoUntilFinAsync(ct);
            return false;
        });
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        await using var client = await lb.ConnectAsync();

        var switching = await client.RequestAsync("GET /chat HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                                  + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").WaitAsync(Timeout);
        Assert.True(switching.Status == 101, $"expected 101, got:\n{switching}");
        Assert.True(switching.Head.HasToken("upgrade", "websocket"), $"Upgrade header missing from the 101:\n{switching.Head}");
        Assert.True(switching.Head.HasToken("connection", "upgrade"), $"Connection: upgrade missing from the 101:\n{switching.Head}");

        for (var i = 0; i < 3; i++)
        {
            var message = Encoding.ASCII.GetBytes($"frame {i} through the tunnel");
            await client.SendAsync(message).WaitAsync(Timeout);
            Assert.Equal(message, await client.ReadExactlyAsync(message.Length).WaitAsync(Timeout));
        }
        var big = Payload(256 * 1024, seed: 3);
        var sending = client.SendAsync(big);
        Assert.Equal(big, await client.ReadExactlyAsync(big.Length).WaitAsync(Timeout));
        await sending.WaitAsync(Timeout);

        var live = await BackendLiveAsync(lb, backend);
        Assert.True(live >= 1, $"an open tunnel should count as live on its backend; status says {live}");

        client.ShutdownSend();
        Assert.Empty(await client.ReadSomeAsync().WaitAsync(Timeout));
        await HttpLb.WaitUntilAsync(async () => await BackendLiveAsync(lb, backend) == 0, "the closed tunnel is no longer live");
    }

    private static async Task<int> BackendLiveAsync(HttpLb lb, RawHttpBackend backend)
    {
        var status = await lb.CtlOkAsync("status");
        var backends = status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("main").GetProperty("backends");
        foreach (var b in backends.EnumerateArray())
        {
            if (b.GetProperty("address").GetString() == backend.EndPoint.ToString()) return b.GetProperty("live").GetInt32();
        }
        throw new InvalidOperationException($"backend {backend.EndPoint} not in status: {status}");
    }

    private static byte[] Payload(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>
    /// A backend whose every connection answers its first request and silently closes on the second: exactly the
    /// "idle connection closed under us" case, made deterministic.
    /// </summary>
    private static RawHttpBackend StartOneRequestPerConnectionBackend()
    {
        var perConnection = new ConcurrentDictionary<int, int>();
        return RawHttpBackend.Start("once-1", async (request, connection, ct) =>
        {
            if (perConnection.AddOrUpdate(connection.Index, 1, (_, n) => n + 1) > 1) return false;
            await connection.SendAsync(RawHttpBackend.Ok("once-1", request.Target), ct);
            return true;
        });
    }
}
