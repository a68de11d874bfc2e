using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Host;
using FastLb.FunctionalTests.Http;
using FastLb.Host;
using FastLb.Host.Control;
using FastLb.Host.Demo;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>A TLS listener in a running FastLb: certificates in status and /metrics, and a certificate swapped by ctl reload under load.</summary>
public sealed class TlsReloadTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TempDir _dir = new();
    private readonly DemoBackend _backend = new("site-backend");
    private readonly X509Certificate2 _old = TestCertificates.SelfSigned("site.test");
    private readonly X509Certificate2 _new = TestCertificates.SelfSigned(["site.test", "www.site.test"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90));
    private FastLbRuntime _runtime = null!;
    private IPEndPoint _https = null!;
    private string ConfigPath => _dir.File("fastlb.yaml");

    public async Task InitializeAsync()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        _backend.Start();
        TestCertificates.WritePem(_old, _dir.Path, "site");
        await File.WriteAllTextAsync(ConfigPath, $"""
            admin:
              control_socket: {_dir.File("fastlb.sock")}
              listen: 127.0.0.1:0
            listeners:
              - name: https
                bind: 127.0.0.1:0
                protocol: http
                tls:
                  certificates: [ {"{"} cert: site.pem, key: site.key {"}"} ]
                routes: [ {"{"} service: web {"}"} ]
            services:
              web: {"{"} pools: {"{"} main: [ {_backend.EndPoint} ] {"}"} {"}"}
            """);
        _runtime = new FastLbRuntime(() => ConfigLoader.LoadFile(ConfigPath));
        Assert.True(await _runtime.StartAsync(ConfigLoader.LoadFile(ConfigPath), handleSignals: false).WaitAsync(Timeout));
        _https = _runtime.Proxy.Listeners[0].EndPoint;
    }

    public async Task DisposeAsync()
    {
        await _runtime.DisposeAsync().AsTask().WaitAsync(Timeout);
        await _backend.DisposeAsync().AsTask().WaitAsync(Timeout);
        _old.Dispose();
        _new.Dispose();
        _dir.Dispose();
    }

    private Task<HttpClientConnection> ConnectAsync() => HttpClientConnection.ConnectTlsAsync(_https, new SslClientAuthenticationOptions
    {
        TargetHost = "site.test",
        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null, // self-signed: each test checks which one it got
    });

    private async Task<JsonElement> CtlAsync(string command)
    {
        var reply = await ControlClient.SendAsync(_dir.File("fastlb.sock"), command, Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    [Fact]
    public async Task Status_And_Metrics_ShowEachCertificateWithItsNamesAndExpiry()
    {
        await using (var client = await ConnectAsync())
        {
            Assert.Equal(200, (await client.RequestAsync("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")).Status);
        }
        // A plain HTTP request to the TLS port: a handshake failure counted as not_tls.
        using (var plain = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await plain.ConnectAsync(_https).WaitAsync(Timeout);
            await plain.SendAsync("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n"u8.ToArray()).WaitAsync(Timeout);
            var traffic = _runtime.Proxy.ListenerTraffic.GetOrAdd("https");
            long Failures() => Enumerable.Range(0, FastLb.Core.Tls.TlsHandshakeFailures.Count).Sum(r => traffic.TlsHandshakeFailuresFor((FastLb.Core.Tls.TlsHandshakeFailure)r));
            await Poll.UntilAsync(() => Failures() == 1, "the plain request's handshake failed");
            Assert.Equal(1, traffic.TlsHandshakeFailuresFor(FastLb.Core.Tls.TlsHandshakeFailure.NotTls));
        }

        var status = await CtlAsync("status");
        var listener = status.GetProperty("listeners")[0];
        var tls = listener.GetProperty("tls");
        var certificate = tls.GetProperty("certificates")[0];
        Assert.Equal(_dir.File("site.pem"), certificate.GetProperty("file").GetString());
        Assert.Equal(["site.test"], certificate.GetProperty("names").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(_old.NotAfter.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ"), certificate.GetProperty("not_after").GetString());
        Assert.InRange(certificate.GetProperty("expires_in_seconds").GetInt64(), 29 * 86400, 30 * 86400);
        Assert.Equal(1, tls.GetProperty("handshakes").GetInt64());
        Assert.Equal(1, tls.GetProperty("handshake_failures").GetProperty("not_tls").GetInt64());
        Assert.Equal(0, listener.GetProperty("proxy_header_rejected").GetInt64());
        var text = ReplyFormatter.Format(status.GetRawText());
        Assert.Contains($"certificate {_dir.File("site.pem")}  site.test  expires ", text, StringComparison.Ordinal);
        Assert.Contains("tls handshakes 1  failed not_tls 1", text, StringComparison.Ordinal);

        string metrics;
        await using (var admin = await HttpClientConnection.ConnectAsync(_runtime.Admin!.EndPoint))
        {
            metrics = (await admin.RequestAsync("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")).BodyText;
        }
        Assert.Empty(PrometheusExposition.Validate(metrics));
        Assert.Equal(new DateTimeOffset(_old.NotAfter.ToUniversalTime()).ToUnixTimeSeconds(),
            PrometheusExposition.Sum(metrics, "fastlb_tls_certificate_expiry_seconds", ("listener", "https"), ("names", "site.test")));
        Assert.Equal(1, PrometheusExposition.Sum(metrics, "fastlb_listener_tls_handshakes_total", ("listener", "https")));
        Assert.Equal(1, PrometheusExposition.Sum(metrics, "fastlb_listener_tls_handshake_failures_total", ("listener", "https"), ("reason", "not_tls")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Reload_NewCertificateUnderLoad_NewHandshakesGetItEstablishedConnectionsContinue()
    {
        var failures = new ConcurrentQueue<string>();
        var seen = new ConcurrentQueue<(DateTime At, string Thumbprint)>(); // per new connection, when it started to connect
        long keptAliveRequests = 0;
        using var stop = new CancellationTokenSource();

        // Keep-alive clients: one connection each for the whole test; every response must arrive on it.
        async Task KeepAliveAsync()
        {
            try
            {
                await using var client = await ConnectAsync();
                var thumbprint = client.Ssl.RemoteCertificate!.GetCertHashString();
                while (!stop.IsCancellationRequested)
                {
                    var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n");
                    if (response.Status != 200 || response.BodyText != "site-backend\n") failures.Enqueue($"keep-alive: {response.Status} {response.BodyText}");
                    Interlocked.Increment(ref keptAliveRequests);
                }
                if (thumbprint != _old.Thumbprint) failures.Enqueue("keep-alive connection did not start on the old certificate");
            }
            catch (Exception e)
            {
                failures.Enqueue($"keep-alive: {e.GetType().Name}: {e.Message}");
            }
        }

        // New-connection clients: a full handshake per request.
        async Task NewConnectionsAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var started = DateTime.UtcNow; // a handshake that began before the reload reply may still get the old certificate
                    await using var client = await ConnectAsync();
                    seen.Enqueue((started, client.Ssl.RemoteCertificate!.GetCertHashString()));
                    var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
                    if (response.Status != 200) failures.Enqueue($"new connection: {response.Status}");
                }
                catch (Exception e)
                {
                    failures.Enqueue($"new connection: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        var clients = new[] { Task.Run(KeepAliveAsync), Task.Run(KeepAliveAsync), Task.Run(NewConnectionsAsync), Task.Run(NewConnectionsAsync) };
        await Poll.UntilAsync(() => Interlocked.Read(ref keptAliveRequests) > 50 && seen.Count > 10, "load flows over both kinds of client");

        // The operator's renewal: new files in place, then ctl reload.
        TestCertificates.WritePem(_new, _dir.Path, "site");
        var reply = await CtlAsync("reload");
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var repliedAt = DateTime.UtcNow;
        var keptBefore = Interlocked.Read(ref keptAliveRequests);
        await Poll.UntilAsync(() => seen.Count(s => s.At > repliedAt) > 20 && Interlocked.Read(ref keptAliveRequests) > keptBefore + 50, "load flows after the reload");
        await stop.CancelAsync();
        await Task.WhenAll(clients).WaitAsync(Timeout);

        Assert.Empty(failures);
        Assert.All(seen.Where(s => s.At > repliedAt), s => Assert.Equal(_new.Thumbprint, s.Thumbprint));
        Assert.Contains(seen, s => s.Thumbprint == _old.Thumbprint);
        var status = await CtlAsync("status");
        Assert.Equal(["site.test", "www.site.test"], status.GetProperty("listeners")[0].GetProperty("tls").GetProperty("certificates")[0]
            .GetProperty("names").EnumerateArray().Select(n => n.GetString()));
    }
}
