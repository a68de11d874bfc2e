using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastLb.Core.Tls;
using FastLb.FunctionalTests.Host;
using FastLb.FunctionalTests.Http;
using FastLb.FunctionalTests.ProxyProtocol;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>tls on an http listener: FastLb terminates TLS (certificate by SNI, min_version, ALPN) and forwards plain HTTP with X-Forwarded-Proto: https.</summary>
public sealed class TlsTerminationTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly TempDir _dir = new();
    private readonly RecordingBackend _backend = RecordingBackend.Start();
    private readonly X509Certificate2 _default = TestCertificates.SelfSigned("default.test");
    private readonly X509Certificate2 _wildcard = TestCertificates.SelfSigned("*.example.com");
    private readonly X509Certificate2 _api = TestCertificates.SelfSigned(["api.internal"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), rsa: true);
    private HttpLb _lb = null!;

    public Task InitializeAsync() => StartAsync("tls1.2");

    private async Task StartAsync(string minVersion)
    {
        var d = TestCertificates.WritePem(_default, _dir.Path, "default");
        var w = TestCertificates.WritePem(_wildcard, _dir.Path, "wildcard");
        var a = TestCertificates.WritePem(_api, _dir.Path, "api");
        _lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: https
                bind: 127.0.0.1:0
                handshake_timeout: 2s
                tls:
                  certificates:
                    - { cert: {{d.Cert}}, key: {{d.Key}} }
                    - { cert: {{w.Cert}}, key: {{w.Key}} }
                    - { cert: {{a.Cert}}, key: {{a.Key}}, sni: [api.example.com] }
                  min_version: {{minVersion}}
                routes: [ { service: web } ]
            services:
              web: { pools: { main: [ {{_backend.EndPoint}} ] } }
            """);
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _backend.DisposeAsync();
        _default.Dispose();
        _wildcard.Dispose();
        _api.Dispose();
        _dir.Dispose();
    }

    /// <summary>A TLS client connection to the listener asking for <paramref name="sni"/>; the certificate FastLb presented is in RemoteCertificate.</summary>
    private async Task<(Socket Socket, SslStream Ssl)> ConnectAsync(string sni, SslProtocols protocols = SslProtocols.None)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(_lb.EndPoint).WaitAsync(Timeout);
            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = sni,
                EnabledSslProtocols = protocols,
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                // Self-signed: any of the listener's own; each test checks which one it got.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() is { } hash
                                                                              && (hash == _default.Thumbprint || hash == _wildcard.Thumbprint || hash == _api.Thumbprint),
            }).WaitAsync(Timeout);
            return (socket, ssl);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one GET on <paramref name="ssl"/> and reads its whole response (the backend answers Content-Length: 2).</summary>
    private static async Task<string> GetAsync(SslStream ssl, string host)
    {
        await ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n")).AsTask().WaitAsync(Timeout);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var s = text.ToString();
            var end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0 && s.Length >= end + 4 + 2) return s;
            var n = await ssl.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
            if (n == 0) return s;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private async Task<X509Certificate> CertificateForAsync(string sni)
    {
        var (socket, ssl) = await ConnectAsync(sni);
        using (socket)
        await using (ssl)
        {
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", await GetAsync(ssl, sni), StringComparison.Ordinal);
            return ssl.RemoteCertificate!;
        }
    }

    [Fact]
    public async Task Handshake_Sni_PicksExactThenWildcardThenDefault()
    {
        Assert.Equal(_api.Thumbprint, (await CertificateForAsync("api.example.com")).GetCertHashString());
        Assert.Equal(_wildcard.Thumbprint, (await CertificateForAsync("shop.example.com")).GetCertHashString());
        Assert.Equal(_default.Thumbprint, (await CertificateForAsync("a.b.example.com")).GetCertHashString()); // a wildcard covers one label
        Assert.Equal(_default.Thumbprint, (await CertificateForAsync("other.org")).GetCertHashString());
    }

    [Fact]
    public async Task Requests_KeepAliveOverOneConnection_ForwardedProtoHttps()
    {
        var (socket, ssl) = await ConnectAsync("shop.example.com");
        using (socket)
        await using (ssl)
        {
            Assert.Equal(SslApplicationProtocol.Http11, ssl.NegotiatedApplicationProtocol);
            for (var i = 0; i < 3; i++)
            {
                var response = await GetAsync(ssl, "shop.example.com");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
                Assert.EndsWith("ok", response, StringComparison.Ordinal);
            }
        }
        var received = string.Join("", _backend.Received.Select(Encoding.ASCII.GetString));
        Assert.Equal(3, CountOf(received, "X-Forwarded-Proto: https\r\n"));
        Assert.Equal(0, CountOf(received, "X-Forwarded-Proto: http\r\n"));
    }

    [Fact]
    public async Task HttpClient_Https_ReachesBackend()
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(_lb.EndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate!.GetCertHashString() == _api.Thumbprint },
        };
        using var client = new HttpClient(handler) { Timeout = Timeout };
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("ok", await client.GetStringAsync("https://api.example.com/hello"));
        }
        Assert.Equal(2, CountOf(string.Join("", _backend.Received.Select(Encoding.ASCII.GetString)), "X-Forwarded-Proto: https\r\n"));
    }

    [Fact]
    public async Task Handshake_MinVersionTls13_RefusesTls12()
    {
        await _lb.DisposeAsync();
        await StartAsync("tls1.3");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var (socket, ssl) = await ConnectAsync("shop.example.com", SslProtocols.Tls12);
            socket.Dispose();
            await ssl.DisposeAsync();
        });
        var traffic = _lb.Server.ListenerTraffic.GetOrAdd("https");
        await Poll.UntilAsync(() => traffic.TlsHandshakeFailuresFor(TlsHandshakeFailure.Protocol) == 1, "the TLS 1.2 handshake is counted as a protocol failure");
        var (s13, ssl13) = await ConnectAsync("shop.example.com", SslProtocols.Tls13);
        using (s13)
        await using (ssl13)
        {
            Assert.Equal(SslProtocols.Tls13, ssl13.SslProtocol);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", await GetAsync(ssl13, "shop.example.com"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PlainHttpToTlsPort_Closed_ListenerKeepsServing()
    {
        using (var plain = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await plain.ConnectAsync(_lb.EndPoint).WaitAsync(Timeout);
            await plain.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray()).WaitAsync(Timeout);
            var buffer = new byte[1024];
            var closed = false;
            var deadline = DateTime.UtcNow + Timeout;
            while (!closed && DateTime.UtcNow < deadline)
            {
                try
                {
                    closed = await plain.ReceiveAsync(buffer).WaitAsync(Timeout) == 0; // anything sent back is a TLS alert, never HTTP
                }
                catch (SocketException)
                {
                    closed = true; // reset
                }
            }
            Assert.True(closed, "the connection was not closed");
        }
        Assert.Equal(_wildcard.Thumbprint, (await CertificateForAsync("www.example.com")).GetCertHashString());
        var received = string.Join("", _backend.Received.Select(Encoding.ASCII.GetString));
        Assert.Equal(0, CountOf(received, "GET / HTTP/1.1")); // the plain request never reached the backend
        Assert.Equal(1, CountOf(received, "GET /x HTTP/1.1"));
    }

    [Fact]
    public async Task StalledHandshake_CutAtHandshakeTimeout()
    {
        using var silent = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync(_lb.EndPoint).WaitAsync(Timeout);
        var started = DateTime.UtcNow;
        int n;
        try
        {
            n = await silent.ReceiveAsync(new byte[16]).WaitAsync(Timeout);
        }
        catch (SocketException)
        {
            n = 0; // reset
        }
        Assert.Equal(0, n);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1.5), "cut before handshake_timeout");
        var traffic = _lb.Server.ListenerTraffic.GetOrAdd("https");
        await Poll.UntilAsync(() => traffic.TlsHandshakeFailuresFor(TlsHandshakeFailure.Timeout) == 1, "the stalled handshake is counted as a timeout");
        Assert.Equal(0, traffic.TlsHandshakes);
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
