using System.Net;
using System.Text;
using FastLb.Core.ProxyProtocol;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.ProxyProtocol;

/// <summary>accept_proxy on http and tcp listeners, send_proxy to backends: the client a PROXY header names is the client.</summary>
public sealed class ProxyProtocolTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly RawHttpBackend _backend = RawHttpBackend.Start("h-1");
    private readonly RecordingBackend _recording = RecordingBackend.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        await _recording.DisposeAsync();
    }

    private string HttpConfig(string acceptProxy, string sendProxy = "", IPEndPoint? backend = null) => $"""
        listeners:
          - name: web
            bind: 127.0.0.1:0
            protocol: http
            accept_proxy: {acceptProxy}
            routes:
              - service: web
        services:
          web:
            {sendProxy}
            pools:
              main: [ {backend ?? _backend.EndPoint} ]
        """;

    private static byte[] V2Header(string source, int sourcePort)
    {
        var buffer = new byte[ProxyHeaderWriter.MaxLength];
        var n = ProxyHeaderWriter.Write(buffer, 2, new IPEndPoint(IPAddress.Parse(source), sourcePort), new IPEndPoint(IPAddress.Parse("10.0.0.1"), 443));
        return buffer[..n];
    }

    [Fact]
    public async Task Http_V1FromTrustedPeer_ForwardedForNamesTheHeadersClient()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ trusted: [127.0.0.0/8] }"));
        await using var client = await lb.ConnectAsync();

        var response = await client.RequestAsync("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);
        var second = await client.GetAsync().WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal(200, second.Status);
        Assert.All(_backend.Requests, r => Assert.Equal(["203.0.113.9"], r.Head.All("x-forwarded-for")));
        Assert.Equal(2, _backend.Requests.Count);
    }

    [Fact]
    public async Task Http_V2SentInPieces_ForwardedForNamesTheHeadersClient()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ versions: [v2] }"));
        await using var client = await lb.ConnectAsync();
        var header = V2Header("2001:db8::9", 4000);

        // The header arrives in two segments: FastLb waits for the rest instead of refusing a prefix.
        await client.SendAsync(header.AsMemory(0, 10)).WaitAsync(Timeout);
        await Task.Delay(50);
        var response = await client.RequestAsync(Encoding.Latin1.GetString(header[10..]) + "GET / HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);

        Assert.Equal(200, response.Status);
        Assert.Equal(["2001:db8::9"], _backend.Requests.Single().Head.All("x-forwarded-for"));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: test\r\n\r\n")]               // the header is missing
    [InlineData("PROXY TCP4 203.0.113.9 10.0.0.1 56324\r\n")]          // malformed
    [InlineData("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\n")]      // a version not accepted (v2 only)
    public async Task Http_TrustedPeerWithoutAValidHeader_ClosedAndCounted(string sent)
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ versions: [v2], trusted: [127.0.0.1] }"));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync(sent).WaitAsync(Timeout);
        var (closed, extra) = await client.WaitForCloseAsync(Timeout);

        Assert.True(closed, "a trusted peer without a valid PROXY header was not closed");
        Assert.Empty(extra);
        Assert.Empty(_backend.Requests);
        Assert.Equal(1, lb.Runtime.Proxy.ListenerTraffic.All.Single().RejectedProxyHeaders);
    }

    [Fact]
    public async Task Http_Garbage20KiB_Closed()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{}"));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync(new byte[20 * 1024]).WaitAsync(Timeout);
        var (closed, _) = await client.WaitForCloseAsync(Timeout);

        Assert.True(closed);
        Assert.Empty(_backend.Requests);
    }

    [Fact]
    public async Task Http_HeaderStalls_ClosedAtTheTimeout()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ timeout: 300ms }"));
        await using var client = await lb.ConnectAsync();

        await client.SendAsync("PROXY TCP4 203.0.113.9").WaitAsync(Timeout);
        var (closed, _) = await client.WaitForCloseAsync(Timeout);

        Assert.True(closed, "a stalled PROXY header was not cut at accept_proxy.timeout");
        // The deadline resets the socket from its timer before the connection's loop counts the rejection.
        await Poll.UntilAsync(() => lb.Runtime.Proxy.ListenerTraffic.All.Single().RejectedProxyHeaders == 1, "the stalled header counted as rejected");
    }

    [Fact]
    public async Task Http_UntrustedPeer_ServedDirectlyAndItsHeaderNotBelieved()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ trusted: [192.0.2.0/24] }"));
        await using (var direct = await lb.ConnectAsync())
        {
            var response = await direct.GetAsync().WaitAsync(Timeout);
            Assert.Equal(200, response.Status);
            Assert.Equal(["127.0.0.1"], _backend.Requests.Single().Head.All("x-forwarded-for"));
        }
        await using var forger = await lb.ConnectAsync();

        var forged = await forger.RequestAsync("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);

        Assert.Equal(400, forged.Status);
        Assert.Single(_backend.Requests);
    }

    [Fact]
    public async Task Http_SendProxyV1_OneHeaderPerClientConnection_NeverShared()
    {
        await using var lb = await HttpLb.StartAsync(HttpConfig("{ trusted: [127.0.0.1] }", "send_proxy: v1", _recording.EndPoint));
        await using (var first = await lb.ConnectAsync())
        {
            await first.SendAsync("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\n").WaitAsync(Timeout);
            Assert.Equal(200, (await first.GetAsync().WaitAsync(Timeout)).Status);
            Assert.Equal(200, (await first.GetAsync().WaitAsync(Timeout)).Status);
            await using var second = await lb.ConnectAsync();
            await second.SendAsync("PROXY TCP4 198.51.100.7 10.0.0.1 1000 443\r\n").WaitAsync(Timeout);
            Assert.Equal(200, (await second.GetAsync().WaitAsync(Timeout)).Status);
        }

        var received = _recording.Received.Select(b => Encoding.Latin1.GetString(b)).ToList();
        Assert.Equal(2, received.Count);
        Assert.StartsWith("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n", received[0]);
        Assert.Equal(1, CountOf(received[0], "PROXY "));
        Assert.Equal(2, CountOf(received[0], "GET / "));
        Assert.StartsWith("PROXY TCP4 198.51.100.7 10.0.0.1 1000 443\r\nGET / HTTP/1.1\r\n", received[1]);
    }

    [Theory]
    [InlineData("splice")]
    [InlineData("pipes")]
    public async Task Tcp_AcceptV1SendV2_BackendSeesTheOriginalClientThenTheBytes(string relay)
    {
        await using var lb = await HttpLb.StartAsync($"""
            defaults:
              tcp_relay: {relay}
            listeners:
              - name: tls-in
                bind: 127.0.0.1:0
                protocol: tcp
                service: app
                accept_proxy:
                  versions: [v1]
                  trusted: [127.0.0.0/8]
            services:
              app:
                send_proxy: v2
                pools:
                  main: [ {_recording.EndPoint} ]
            """);
        await using var client = await lb.ConnectAsync();

        await client.SendAsync("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nhello").WaitAsync(Timeout);
        await HttpLb.WaitUntilAsync(() => Task.FromResult(_recording.Received.Sum(b => b.Length) >= 28 + 5), "the backend got the header and the bytes");

        var received = _recording.Received.Single();
        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(received, ProxyVersions.V2, out var header, out var consumed));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.9"), 56324), header.SourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 443), header.DestinationEndPoint());
        Assert.Equal("hello", Encoding.ASCII.GetString(received[consumed..]));
    }

    [Fact]
    public async Task Tcp_SendProxyWithoutAccept_NamesThePeerAndTheListener()
    {
        await using var lb = await HttpLb.StartAsync($"""
            listeners:
              - name: plain
                bind: 127.0.0.1:0
                protocol: tcp
                service: app
            services:
              app:
                send_proxy: v1
                pools:
                  main: [ {_recording.EndPoint} ]
            """);
        await using var client = await lb.ConnectAsync();
        var local = (IPEndPoint)client.Socket.LocalEndPoint!;

        await client.SendAsync("x").WaitAsync(Timeout);
        await HttpLb.WaitUntilAsync(() => Task.FromResult(_recording.Received.Sum(b => b.Length) > 1 && _recording.Received[0][^1] == 'x'), "the backend got the header and the byte");

        Assert.Equal($"PROXY TCP4 127.0.0.1 127.0.0.1 {local.Port} {lb.EndPoint.Port}\r\nx", Encoding.ASCII.GetString(_recording.Received.Single()));
    }

    private static int CountOf(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
