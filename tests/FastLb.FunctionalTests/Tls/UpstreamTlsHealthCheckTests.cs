using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using FastLb.FunctionalTests.Health;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>An http health check of a service with tls speaks the service's TLS (sni, ca, verify, client_cert); a failed handshake or verification is a failed check that says so.</summary>
public sealed class UpstreamTlsHealthCheckTests : UpstreamTlsTestBase
{
    // A handshake with verification can take over a second on a loaded 2-core box: a check cut at its timeout says "tls handshake timeout".
    private const string Check = "{ path: /healthz, interval: 2s, timeout: 2s, healthy_threshold: 1, unhealthy_threshold: 1 }";

    private async Task<HttpLb> StartAsync(IPEndPoint backend, string tls) => Own(await HttpLb.StartAsync($$"""
        listeners:
          - name: front
            bind: 127.0.0.1:0
            protocol: http
            routes: [ { service: api } ]
        services:
          api:
            tls: {{tls}}
            health_check: {{Check}}
            pools: { main: [ {{backend}} ] }
        """));

    private static async Task<JsonElement> BackendStatusAsync(HttpLb lb, IPEndPoint backend)
    {
        var backends = (await lb.CtlOkAsync("status")).GetProperty("services").GetProperty("api").GetProperty("pools").GetProperty("main").GetProperty("backends");
        return backends.EnumerateArray().First(b => b.GetProperty("address").GetString() == backend.ToString());
    }

    /// <summary>Waits until status shows <paramref name="backend"/> as <paramref name="health"/> (and, when given, its last check failed with <paramref name="error"/>) and returns its status then.</summary>
    private static async Task<JsonElement> WaitHealthAsync(HttpLb lb, IPEndPoint backend, string health, string? error = null)
    {
        var last = default(JsonElement);
        await HttpLb.WaitUntilAsync(async () =>
        {
            last = await BackendStatusAsync(lb, backend);
            return last.GetProperty("health").GetString() == health
                   && last.GetProperty("last_check") is { ValueKind: JsonValueKind.Object } check
                   && (error is null || (check.TryGetProperty("error", out var e) && e.GetString() == error));
        }, $"{backend} is {health}{(error is null ? "" : $" ({error})")}", TimeSpan.FromSeconds(30));
        return last;
    }

    [Fact]
    public async Task HttpCheck_TrustedTlsBackend_HealthyOverTheServiceSni()
    {
        var backend = Own(TlsHttpBackend.Start(TestCertificates.IssuedServer(Ca, "backend.internal")));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");

        var status = await WaitHealthAsync(lb, backend.EndPoint, "healthy");

        Assert.Equal("status 200", status.GetProperty("last_check").GetProperty("result").GetString());
        Assert.True(backend.Requests >= 1); // the check's GET arrived decrypted
        Assert.Contains("backend.internal", backend.ServerNames);
        Assert.All(backend.FirstBytes, b => Assert.Equal(0x16, b)); // every check began with a TLS handshake
        Assert.Equal(200, (await lb.SendOnceAsync("GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")).Status);
    }

    [Fact]
    public async Task HttpCheck_BackendRequiresClientCertificate_HealthyWithTheServiceClientCert()
    {
        using var clientCa = TestCertificates.Authority("clients-ca");
        using var clientCertificate = TestCertificates.IssuedClient(clientCa, "fastlb-client");
        var (cert, key) = TestCertificates.WritePem(clientCertificate, Dir.Path, "fastlb-client");
        var backend = Own(TlsHttpBackend.Start(TestCertificates.IssuedServer(Ca, "backend.internal"), clientAuthority: clientCa));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile}, client_cert: {{ cert: {cert}, key: {key} }} }}");

        var status = await WaitHealthAsync(lb, backend.EndPoint, "healthy");

        Assert.Equal("status 200", status.GetProperty("last_check").GetProperty("result").GetString());
    }

    [Fact]
    public async Task HttpCheck_CertificateFromAnotherCa_UnhealthyNotTrusted()
    {
        using var otherCa = TestCertificates.Authority("someone-else");
        var backend = Own(TlsHttpBackend.Start(TestCertificates.IssuedServer(otherCa, "backend.internal")));
        var lb = await StartAsync(backend.EndPoint, $"{{ sni: backend.internal, ca: {CaFile} }}");

        var status = await WaitHealthAsync(lb, backend.EndPoint, "unhealthy", "tls: certificate not trusted");

        var check = status.GetProperty("last_check");
        Assert.False(check.GetProperty("passed").GetBoolean());
        Assert.Equal("tls: certificate not trusted", check.GetProperty("error").GetString());
        Assert.Equal(0, backend.Requests); // nothing went to a backend that did not verify
        Assert.True(PrometheusExposition.Value(lb.Metrics(), "fastlb_backend_health_checks_total", ("result", "failed")) >= 1);
    }

    [Fact]
    public async Task HttpCheck_PlainBackendBehindTlsService_UnhealthyTls()
    {
        await using var plain = HealthBackend.Start("plain");
        var lb = await StartAsync(plain.EndPoint, "{ verify: false }");

        var status = await WaitHealthAsync(lb, plain.EndPoint, "unhealthy");

        var error = status.GetProperty("last_check").GetProperty("error").GetString()!;
        Assert.StartsWith("tls handshake", error, StringComparison.Ordinal); // failed (closed on the ClientHello) or timeout (it waits for a request line)
        Assert.Equal(0, plain.Checks); // no GET in plain text
    }
}
