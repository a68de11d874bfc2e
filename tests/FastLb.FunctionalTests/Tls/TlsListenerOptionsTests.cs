using System.Diagnostics;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FastLb.Core.Tls;
using FastLb.FunctionalTests.Host;
using FastLb.FunctionalTests.Http;
using FastLb.FunctionalTests.ProxyProtocol;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>A TLS listener's alpn, strict_sni, client_auth (mutual TLS, required and optional) and session resumption.</summary>
public sealed class TlsListenerOptionsTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly TempDir _dir = new();
    private readonly RecordingBackend _backend = RecordingBackend.Start();
    private readonly X509Certificate2 _site = TestCertificates.SelfSigned("site.test", "*.site.test");
    private readonly X509Certificate2 _ca = TestCertificates.Authority("clients CA");
    private readonly X509Certificate2 _otherCa = TestCertificates.Authority("someone else's CA");
    private HttpLb? _lb;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_lb is not null) await _lb.DisposeAsync();
        await _backend.DisposeAsync();
        _site.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
        _dir.Dispose();
    }

    private async Task StartAsync(string tlsExtra)
    {
        var site = TestCertificates.WritePem(_site, _dir.Path, "site");
        File.WriteAllText(_dir.File("clients-ca.pem"), _ca.ExportCertificatePem());
        _lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: https
                bind: 127.0.0.1:0
                handshake_timeout: 5s
                tls:
                  certificates: [ { cert: {{site.Cert}}, key: {{site.Key}} } ]
            {{tlsExtra}}
                routes: [ { service: web } ]
            services:
              web: { pools: { main: [ {{_backend.EndPoint}} ] } }
            """);
    }

    private Task<HttpClientConnection> ConnectAsync(string sni, X509Certificate2? clientCertificate = null, List<SslApplicationProtocol>? alpn = null) =>
        HttpClientConnection.ConnectTlsAsync(_lb!.EndPoint, new SslClientAuthenticationOptions
        {
            TargetHost = sni,
            ApplicationProtocols = alpn,
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == _site.Thumbprint,
        });

    private static Task<HttpResponse> GetAsync(HttpClientConnection client, string host) =>
        client.RequestAsync($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");

    [Fact]
    public async Task StrictSni_HostOfAnotherServer_421AndClosed_MatchingHostServed()
    {
        await StartAsync("      strict_sni: true");
        await using (var client = await ConnectAsync("a.site.test"))
        {
            Assert.Equal(200, (await GetAsync(client, "A.site.test:443")).Status); // case and port do not matter
            var misdirected = await GetAsync(client, "b.site.test");
            Assert.Equal(421, misdirected.Status);
            Assert.Contains("Host is not the server name", misdirected.BodyText, StringComparison.Ordinal);
        }
        Assert.Single(_backend.Received); // the 421 never reached the backend
    }

    [Fact]
    public async Task StrictSniOff_HostOfAnotherServer_Served()
    {
        await StartAsync("");
        await using var client = await ConnectAsync("a.site.test");
        Assert.Equal(200, (await GetAsync(client, "b.site.test")).Status);
    }

    [Fact]
    public async Task Alpn_Configured_OfferedAndNegotiated_EmptyListOffersNone()
    {
        await StartAsync("      alpn: [http/1.0, http/1.1]");
        await using (var client = await ConnectAsync("site.test", alpn: [SslApplicationProtocol.Http11, new SslApplicationProtocol("http/1.0")]))
        {
            Assert.Equal("http/1.0", client.Ssl.NegotiatedApplicationProtocol.ToString()); // the listener's preference wins
            Assert.Equal(200, (await GetAsync(client, "site.test")).Status);
        }
        await _lb!.DisposeAsync();
        _lb = null;
        await StartAsync("      alpn: []");
        await using (var client = await ConnectAsync("site.test", alpn: [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]))
        {
            Assert.Equal(default, client.Ssl.NegotiatedApplicationProtocol);
            Assert.Equal(200, (await GetAsync(client, "site.test")).Status);
        }
    }

    [Fact]
    public async Task ClientAuthRequired_CertificateFromTheCa_Served_NoneOrForeign_Refused()
    {
        await StartAsync($"      client_auth: {{ ca: {_dir.File("clients-ca.pem")}, required: true }}");
        using var good = TestCertificates.IssuedClient(_ca, "client-1");
        using var foreign = TestCertificates.IssuedClient(_otherCa, "intruder");

        await using (var client = await ConnectAsync("site.test", good))
        {
            Assert.Equal(200, (await GetAsync(client, "site.test")).Status);
        }
        await AssertRefusedAsync(null);
        await AssertRefusedAsync(foreign);
        var traffic = _lb!.Server.ListenerTraffic.GetOrAdd("https");
        await Poll.UntilAsync(() => traffic.TlsHandshakeFailuresFor(TlsHandshakeFailure.ClientCertificate) == 2, "both refusals are counted as client_certificate");
        Assert.Single(_backend.Received);
    }

    [Fact]
    public async Task ClientAuthOptional_NoCertificate_Served_ForeignCertificate_Refused()
    {
        await StartAsync($"      client_auth: {{ ca: {_dir.File("clients-ca.pem")}, required: false }}");
        using var good = TestCertificates.IssuedClient(_ca, "client-1");
        using var foreign = TestCertificates.IssuedClient(_otherCa, "intruder");

        await using (var client = await ConnectAsync("site.test"))
        {
            Assert.Equal(200, (await GetAsync(client, "site.test")).Status);
        }
        await using (var client = await ConnectAsync("site.test", good))
        {
            Assert.Equal(200, (await GetAsync(client, "site.test")).Status);
        }
        await AssertRefusedAsync(foreign);
        Assert.Equal(2, _backend.RequestCount); // both served requests, whether on one pooled backend connection or two
    }

    /// <summary>
    /// The client's handshake may end before the server has judged its certificate (TLS 1.3 sends it last), so the
    /// refusal shows as a failed handshake or a connection closed before any response.
    /// </summary>
    private async Task AssertRefusedAsync(X509Certificate2? certificate)
    {
        try
        {
            await using var client = await ConnectAsync("site.test", certificate);
            await GetAsync(client, "site.test");
        }
        catch (Exception e) when (e is AuthenticationException or IOException or EndOfStreamException)
        {
            return;
        }
        Assert.Fail($"a client with {(certificate is null ? "no certificate" : certificate.Subject)} was served");
    }

    [ToolFact("openssl", "openssl")]
    public async Task Resumption_SecondConnectionWithTheSavedSession_Reused()
    {
        await StartAsync("");
        var session = _dir.File("session.pem");
        foreach (var version in new[] { "-tls1_3", "-tls1_2" })
        {
            File.Delete(session);
            var first = await OpenSslClientAsync(version, "-sess_out", session);
            Assert.Contains("New, TLSv1.", first, StringComparison.Ordinal);
            Assert.True(File.Exists(session), $"openssl saved no session ({version}):\n{first}");
            var second = await OpenSslClientAsync(version, "-sess_in", session);
            Assert.Contains("Reused, TLSv1.", second, StringComparison.Ordinal);
            Assert.Contains("HTTP/1.1 200 OK", second, StringComparison.Ordinal);
        }
    }

    /// <summary>One request through `openssl s_client`; returns what it printed (the session summary and the response).</summary>
    private async Task<string> OpenSslClientAsync(string version, string sessionOption, string sessionFile)
    {
        var info = new ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "s_client", "-connect", _lb!.EndPoint.ToString(), "-servername", "site.test", version, sessionOption, sessionFile, "-ign_eof" })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            // Connection: close: FastLb closes after the response, which ends s_client after it has read the session ticket.
            await process.StandardInput.WriteAsync("GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
            await process.StandardInput.FlushAsync();
            await process.WaitForExitAsync().WaitAsync(Timeout);
            return await output.WaitAsync(Timeout) + await error.WaitAsync(Timeout);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
