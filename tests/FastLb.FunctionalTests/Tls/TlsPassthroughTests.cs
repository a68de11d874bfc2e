using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>sni_routes: a tcp listener routes TLS by the ClientHello's server name and relays it untouched to backends that terminate it.</summary>
public sealed class TlsPassthroughTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly TlsEchoBackend _api = TlsEchoBackend.Start("api", "api.example.com");
    private readonly TlsEchoBackend _web = TlsEchoBackend.Start("web", "*.example.com");
    private readonly TlsEchoBackend _fallback = TlsEchoBackend.Start("fallback", "fallback.test");
    private HttpLb _lb = null!;

    public async Task InitializeAsync()
    {
        _lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: tls-in
                bind: 127.0.0.1:0
                protocol: tcp
                handshake_timeout: 3s  # generous: a loaded machine may take long to send the first ClientHello of a process (TLS library start-up)
                sni_routes:
                  - { sni: api.example.com, service: api }
                  - { sni: "*.example.com", service: web }
                  - { service: fallback }
            services:
              api: { pools: { main: [ {{_api.EndPoint}} ] } }
              web: { pools: { main: [ {{_web.EndPoint}} ] } }
              fallback: { pools: { main: [ {{_fallback.EndPoint}} ] } }
            """);
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _api.DisposeAsync();
        await _web.DisposeAsync();
        await _fallback.DisposeAsync();
    }

    /// <summary>Connects through FastLb with <paramref name="sni"/>, accepting only <paramref name="expected"/>'s own certificate; returns the name the backend sent.</summary>
    private async Task<string> HandshakeThroughAsync(string sni, TlsEchoBackend expected, SslProtocols protocols = SslProtocols.None)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_lb.EndPoint).WaitAsync(Timeout);
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = sni,
            EnabledSslProtocols = protocols,
            // End to end: the backend's own certificate, not FastLb's (FastLb holds none on a passthrough listener).
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == expected.Certificate.GetCertHashString(),
        }).WaitAsync(Timeout);
        var buffer = new byte[64];
        var n = await ssl.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
        var name = Encoding.ASCII.GetString(buffer, 0, n).TrimEnd('\n');
        await ssl.WriteAsync("ping"u8.ToArray()).AsTask().WaitAsync(Timeout);
        n = await ssl.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, n));
        return name;
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Handshake_EachName_ReachesItsBackendEndToEnd(SslProtocols protocols)
    {
        Assert.Equal("api", await HandshakeThroughAsync("api.example.com", _api, protocols));
        Assert.Equal("web", await HandshakeThroughAsync("shop.example.com", _web, protocols));
        Assert.Equal("fallback", await HandshakeThroughAsync("other.org", _fallback, protocols));
    }

    [Fact]
    public async Task Handshake_NoSni_DefaultRoute()
    {
        Assert.Equal("fallback", await HandshakeThroughAsync("", _fallback));
    }

    [Fact]
    public async Task Garbage20KiB_ClosedAndCounted()
    {
        await using var client = await _lb.ConnectAsync();
        var garbage = new byte[20 * 1024];
        new Random(3).NextBytes(garbage);
        garbage[0] = 22;
        garbage[1] = 3;

        await client.SendAsync(garbage).WaitAsync(Timeout);
        var (closed, extra) = await client.WaitForCloseAsync(Timeout);

        Assert.True(closed, "a garbage ClientHello was not closed");
        Assert.Empty(extra);
        Assert.Equal(1, _lb.Runtime.Proxy.ListenerTraffic.All.Single().RejectedClientHellos);
        Assert.Equal(0, _api.AcceptedConnections + _web.AcceptedConnections + _fallback.AcceptedConnections);
    }

    [Fact]
    public async Task StalledClientHello_ClosedAtTheHandshakeTimeout()
    {
        await using var client = await _lb.ConnectAsync();

        await client.SendAsync(new byte[] { 22, 3, 1, 0, 200, 1 }).WaitAsync(Timeout);
        var (closed, _) = await client.WaitForCloseAsync(Timeout);

        Assert.True(closed, "a client stalled mid-ClientHello was not cut at handshake_timeout");
        // The deadline resets the socket first; the rejection is counted when the read it failed returns.
        await Poll.UntilAsync(() => _lb.Runtime.Proxy.ListenerTraffic.All.Single().RejectedClientHellos == 1, "the stalled ClientHello is counted");
    }
}
