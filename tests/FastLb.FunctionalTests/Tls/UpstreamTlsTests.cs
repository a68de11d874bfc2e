using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using FastLb.Core.Routing;
using FastLb.Core.Tls;
using FastLb.FunctionalTests.Http;
using FastLb.Host.Control;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>A service's tls: FastLb speaks verified TLS to its backends (HTTP, pooled; TCP, relayed), and a backend that does not verify gets nothing in plain text.</summary>
public sealed class UpstreamTlsTests : UpstreamTlsTestBase
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private const string Get = "GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n";

    private TlsHttpBackend Backend(X509Certificate2 certificate, X509Certificate2? clientAuthority = null, bool echo = false, SslProtocols protocols = SslProtocols.None) =>
        Own(TlsHttpBackend.Start(certificate, clientAuthority, echo, protocols));

    private static string Yaml(IPEndPoint backend, string tls, string protocol = "http") => $$"""
        listeners:
          - name: front
            bind: 127.0.0.1:0
            protocol: {{protocol}}
        {{(protocol == "http" ? "    routes: [ { service: api } ]" : "    service: api")}}
        services:
          api:
            tls: {{tls}}
            pools: { main: [ {{backend}} ] }
        """;

    private async Task<HttpLb> StartAsync(IPEndPoint backend, string tls, string protocol = "http") =>
        Own(await HttpLb.StartAsync(Yaml(backend, tls, protocol)));

    private static BackendState State(HttpLb lb, IPEndPoint backend) => lb.Controller.Registry.Find("api", "main", backend.ToString())!;

    [Fact]
    public async Task Request_CertificateFromTrustedCa_VerifiedAndSniSent()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ enabled: true, sni: backend.internal, ca: {CaFile}, verify: true }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(200, response.Status);
        Assert.Equal("sni=backend.internal;client=none", response.BodyText);
        Assert.Equal(["backend.internal"], backend.ServerNames);
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.Handshakes);
    }

    [Fact]
    public async Task Request_TwoOnOneClientConnection_OneUpstreamHandshake()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");
        await using var client = await lb.ConnectAsync();

        var first = await client.RequestAsync(Get);
        var second = await client.RequestAsync(Get);

        Assert.Equal((200, 200), (first.Status, second.Status));
        Assert.Equal(1, backend.AcceptedConnections); // the second request reused the pooled TLS connection
        Assert.Equal(1, backend.Handshakes);
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.Handshakes);
    }

    [Fact]
    public async Task Request_CertificateFromAnotherCa_502AndNothingSentInPlain()
    {
        using var otherCa = TestCertificates.Authority("someone-else");
        var backend = Backend(TestCertificates.IssuedServer(otherCa, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(502, response.Status);
        Assert.Equal(0, backend.Requests);
        Assert.NotEmpty(backend.FirstBytes);
        Assert.All(backend.FirstBytes, b => Assert.Equal(0x16, b)); // every connection began a TLS handshake: no request went in plain text
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.FailuresFor(UpstreamTlsFailure.Untrusted));
    }

    [Fact]
    public async Task Request_CertificateForAnotherName_502NameMismatch()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: other.internal, ca: {CaFile} }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(502, response.Status);
        Assert.Equal(0, backend.Requests);
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.FailuresFor(UpstreamTlsFailure.NameMismatch));
        Assert.Equal(0, State(lb, backend.EndPoint).Tls.FailuresFor(UpstreamTlsFailure.Untrusted));
    }

    [Fact]
    public async Task Request_NoSni_BackendAddressVerifiedAgainstItsIpName()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "127.0.0.1"));
        var lb = await StartAsync(backend.EndPoint, $"{{ ca: {CaFile} }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(200, response.Status);
        Assert.Equal([""], backend.ServerNames); // an IP address is verified, never sent as SNI
    }

    [Fact]
    public async Task Request_VerifyFalse_SelfSignedAccepted()
    {
        var backend = Backend(TestCertificates.SelfSigned("anything.internal"));
        var lb = await StartAsync(backend.EndPoint, "{ sni: backend.internal, verify: false }");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(200, response.Status);
        Assert.Equal("sni=backend.internal;client=none", response.BodyText);
    }

    [Fact]
    public async Task Request_BackendRequiresClientCertificate_ClientCertPresented()
    {
        using var clientCa = TestCertificates.Authority("clients-ca");
        using var clientCertificate = TestCertificates.IssuedClient(clientCa, "fastlb-client");
        var (cert, key) = TestCertificates.WritePem(clientCertificate, Dir.Path, "fastlb-client");
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"), clientAuthority: clientCa);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile}, client_cert: {{ cert: {cert}, key: {key} }} }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(200, response.Status);
        Assert.Equal("sni=backend.internal;client=CN=fastlb-client", response.BodyText);
    }

    [Fact]
    public async Task Request_BackendRequiresClientCertificateNoneConfigured_502()
    {
        using var clientCa = TestCertificates.Authority("clients-ca");
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"), clientAuthority: clientCa);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(502, response.Status);
        Assert.Equal(0, backend.Requests);
    }

    [Fact]
    public async Task Reload_ChangedSni_NextRequestOnNewConnectionWithIt()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "a.internal", "b.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: a.internal, ca: {CaFile} }}");
        await using var client = await lb.ConnectAsync();
        Assert.Equal("sni=a.internal;client=none", (await client.RequestAsync(Get)).BodyText);

        await lb.RewriteConfigAsync(Yaml(backend.EndPoint, $"{{ sni: b.internal, ca: {CaFile} }}"));
        Assert.True((await lb.Runtime.ReloadAsync().WaitAsync(Timeout)).Ok);

        Assert.Equal("sni=b.internal;client=none", (await client.RequestAsync(Get)).BodyText);
        Assert.Equal(["a.internal", "b.internal"], backend.ServerNames); // the idle connection opened with the old settings was not reused
    }

    [Fact]
    public async Task Reload_SameTlsBlock_PooledConnectionKept()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"));
        var tls = $"{{ sni: backend.internal, ca: {CaFile} }}";
        var lb = await StartAsync(backend.EndPoint, tls);
        await using var client = await lb.ConnectAsync();
        Assert.Equal(200, (await client.RequestAsync(Get)).Status);

        await lb.RewriteConfigAsync(Yaml(backend.EndPoint, tls));
        Assert.True((await lb.Runtime.ReloadAsync().WaitAsync(Timeout)).Ok);

        Assert.Equal(200, (await client.RequestAsync(Get)).Status);
        Assert.Equal(1, backend.Handshakes);
    }

    [Fact]
    public async Task TcpRelay_UpstreamTls_BytesBothWaysAndHalfClose()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"), echo: true);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}", protocol: "tcp");
        await using var client = await TestClient.ConnectAsync(lb.EndPoint).WaitAsync(Timeout);
        var payload = new byte[100_000];
        new Random(7).NextBytes(payload);

        await client.SendAsync(payload).WaitAsync(Timeout);
        var echoed = await client.ReceiveExactlyAsync(payload.Length).WaitAsync(Timeout);
        client.ShutdownSend(); // the backend sees the end of the stream, ends its side, and the client sees that end
        var rest = await client.ReadToEndAsync().WaitAsync(Timeout);

        Assert.Equal(payload, echoed);
        Assert.Empty(rest);
        Assert.Equal(payload, backend.Received.SelectMany(b => b).ToArray()); // decrypted by the backend: it came over TLS
        Assert.All(backend.FirstBytes, b => Assert.Equal(0x16, b));
        Assert.Equal(["backend.internal"], backend.ServerNames);
    }

    [Fact]
    public async Task TcpRelay_UntrustedBackend_ClientResetNothingRelayed()
    {
        using var otherCa = TestCertificates.Authority("someone-else");
        var backend = Backend(TestCertificates.IssuedServer(otherCa, "backend.internal"), echo: true);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}", protocol: "tcp");

        byte[] relayed = [];
        TestClient? client = null;
        try
        {
            // The reset can come before the client saw its connect complete (a loaded machine): the connect then fails.
            client = await TestClient.ConnectAsync(lb.EndPoint).WaitAsync(Timeout);
            await client.SendAsync(Encoding.ASCII.GetBytes("secret")).WaitAsync(Timeout);
            relayed = await client.ReadToEndAsync().WaitAsync(Timeout); // reset (throws) or closed: either way nothing comes back
        }
        catch (Exception e) when (e is not TimeoutException)
        {
        }
        finally
        {
            if (client is not null) await client.DisposeAsync();
        }

        Assert.Empty(relayed);
        Assert.Empty(backend.Received);
        Assert.All(backend.FirstBytes, b => Assert.Equal(0x16, b));
        await Poll.UntilAsync(() => State(lb, backend.EndPoint).Tls.FailuresFor(UpstreamTlsFailure.Untrusted) == 1, "the untrusted certificate is counted");
    }

    [Fact]
    public async Task Request_MinVersionTls13BackendOnlyTls12_502AndHandshakeFailureCounted()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"), protocols: SslProtocols.Tls12);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile}, min_version: tls1.3 }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(502, response.Status);
        Assert.Equal(0, backend.Requests);
        Assert.Equal(0, backend.Handshakes);
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.FailuresFor(UpstreamTlsFailure.Handshake));
        Assert.Equal(0, State(lb, backend.EndPoint).Tls.Handshakes);
    }

    [Fact]
    public async Task Request_MinVersionTls12BackendOnlyTls12_Served()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"), protocols: SslProtocols.Tls12);
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile}, min_version: tls1.2 }}");

        var response = await lb.SendOnceAsync(Get);

        Assert.Equal(200, response.Status);
        Assert.Equal(1, State(lb, backend.EndPoint).Tls.Handshakes);
    }

    [Fact]
    public async Task Status_TrustedBackend_ShowsSettingsAndHandshakes()
    {
        var backend = Backend(TestCertificates.IssuedServer(Ca, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");
        Assert.Equal(200, (await lb.SendOnceAsync(Get)).Status);

        var status = await lb.CtlOkAsync("status");

        var tls = status.GetProperty("services").GetProperty("api").GetProperty("tls");
        Assert.True(tls.GetProperty("enabled").GetBoolean());
        Assert.Equal("backend.internal", tls.GetProperty("sni").GetString());
        Assert.True(tls.GetProperty("verify").GetBoolean());
        Assert.Equal("tls1.2", tls.GetProperty("min_version").GetString());
        Assert.Equal(CaFile, tls.GetProperty("ca").GetString());
        Assert.Equal(JsonValueKind.Null, tls.GetProperty("client_cert").ValueKind);
        Assert.Equal((1, 0), (tls.GetProperty("handshakes").GetInt64(), tls.GetProperty("failures").GetInt64()));
        var backendTls = status.GetProperty("services").GetProperty("api").GetProperty("pools").GetProperty("main").GetProperty("backends")[0].GetProperty("tls");
        Assert.Equal(1, backendTls.GetProperty("handshakes").GetInt64());
        Assert.Contains($"upstream tls  sni backend.internal  verify on  min tls1.2  ca {CaFile}  handshakes 1  failed 0", ReplyFormatter.Format(status.GetRawText()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_UntrustedBackend_ShowsFailureByReason()
    {
        using var otherCa = TestCertificates.Authority("someone-else");
        var backend = Backend(TestCertificates.IssuedServer(otherCa, "backend.internal"));
        var lb = await StartAsync(backend.EndPoint, "{ sni: backend.internal }");
        Assert.Equal(502, (await lb.SendOnceAsync(Get)).Status);

        var status = await lb.CtlOkAsync("status");

        var tls = status.GetProperty("services").GetProperty("api").GetProperty("tls");
        Assert.Equal(JsonValueKind.Null, tls.GetProperty("ca").ValueKind); // the system's roots
        Assert.Equal((0, 1), (tls.GetProperty("handshakes").GetInt64(), tls.GetProperty("failures").GetInt64()));
        Assert.Equal(1, tls.GetProperty("handshake_failures").GetProperty("untrusted").GetInt64());
        var text = ReplyFormatter.Format(status.GetRawText());
        Assert.Contains("upstream tls  sni backend.internal  verify on  min tls1.2  handshakes 0  failed untrusted 1", text, StringComparison.Ordinal);
        Assert.Contains("tls failed 1", text, StringComparison.Ordinal);
    }
}
