using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Proxy;
using FastLb.Proxy.Http;

namespace FastLb.Benchmarks;

/// <summary>
/// One keep-alive request and its response on an established TLS connection, through FastLb's TLS paths on loopback:
/// a TLS listener forwarding to a plain backend (TlsListener), a plain listener forwarding to a backend over the
/// service's upstream TLS (UpstreamTls), and, as references, the plain proxied exchange (Plain) and TLS straight to
/// the TLS backend without FastLb (DirectTls).
/// </summary>
/// <remarks>
/// The clients and backends are blocking .NET sockets and synchronous SslStreams with fixed buffers; DirectTls shows
/// what those two synchronous SslStream ends allocate by themselves (the allocation column is process-wide). Subtract
/// it from TlsListener and UpstreamTls (each has one such end) to read FastLb's own allocation per request on a TLS
/// connection: its asynchronous SslStream over the connection's pipes and the pipe reader and writer over it.
/// Certificates are ECDSA P-256, made at setup.
/// </remarks>
[MemoryDiagnoser]
public class TlsRequestBenchmark
{
    private readonly byte[] _clientBuffer = new byte[4096];
    private readonly List<Socket> _listeners = [];
    private readonly List<IDisposable> _owned = [];
    private X509Certificate2 _certificate = null!;
    private string _dir = null!;
    private ProxyServer _server = null!;
    private HttpProxy _http = null!;
    private Socket _plain = null!;
    private SslStream _tlsListener = null!;
    private Socket _upstreamTls = null!;
    private SslStream _directTls = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("fastlb-bench-tls-").FullName;
        _certificate = MakeCertificate();
        var certPath = Path.Combine(_dir, "site.pem");
        var keyPath = Path.Combine(_dir, "site.key");
        File.WriteAllText(certPath, _certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, _certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var plainBackend = StartBackend(tls: false);
        var tlsBackend = StartBackend(tls: true);
        var yaml = $$"""
            listeners:
              - { name: tls-in, bind: "127.0.0.1:0", protocol: http, tls: { certificates: [ { cert: {{certPath}}, key: {{keyPath}} } ] }, routes: [ { service: plain } ] }
              - { name: plain-in, bind: "127.0.0.1:0", protocol: http, routes: [ { service: secure } ] }
              - { name: plain-to-plain, bind: "127.0.0.1:0", protocol: http, routes: [ { service: plain } ] }
            services:
              plain: { pools: { main: [ {{plainBackend}} ] } }
              secure: { tls: { sni: bench.test, verify: false }, pools: { main: [ {{tlsBackend}} ] } }
            """;
        var config = ConfigLoader.Parse(yaml, "bench.yaml");
        var router = new Router();
        router.Publish(RoutingTableBuilder.Build(config, 1, new Dictionary<string, ServiceTraffic>(),
            new Dictionary<BackendKey, BackendOverride>(), new BackendStateRegistry()));
        _server = new ProxyServer(router, _ => _http);
        _http = new HttpProxy(router, _server.Transport);
        _server.ApplyAsync(config).GetAwaiter().GetResult();

        _tlsListener = ConnectTls(_server.Listeners[0].EndPoint);
        _upstreamTls = Connect(_server.Listeners[1].EndPoint);
        _plain = Connect(_server.Listeners[2].EndPoint);
        _directTls = ConnectTls(tlsBackend);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tlsListener.Dispose();
        _upstreamTls.Dispose();
        _plain.Dispose();
        _directTls.Dispose();
        _server.StopAsync(TimeSpan.Zero).GetAwaiter().GetResult();
        _http.Dispose();
        foreach (var l in _listeners) l.Dispose();
        foreach (var o in _owned) o.Dispose();
        _certificate.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public int Plain() => RoundTrip(_plain);

    [Benchmark]
    public int TlsListener() => RoundTrip(_tlsListener);

    [Benchmark]
    public int UpstreamTls() => RoundTrip(_upstreamTls);

    [Benchmark]
    public int DirectTls() => RoundTrip(_directTls);

    private int RoundTrip(Socket socket)
    {
        socket.Send(HttpRequestBenchmark.Request);
        var filled = 0;
        while (true)
        {
            var n = socket.Receive(_clientBuffer, filled, _clientBuffer.Length - filled, SocketFlags.None);
            if (n == 0) throw new InvalidOperationException("connection closed mid-response");
            filled += n;
            if (Complete(_clientBuffer.AsSpan(0, filled))) return filled;
        }
    }

    private int RoundTrip(SslStream ssl)
    {
        ssl.Write(HttpRequestBenchmark.Request);
        var filled = 0;
        while (true)
        {
            var n = ssl.Read(_clientBuffer, filled, _clientBuffer.Length - filled);
            if (n == 0) throw new InvalidOperationException("connection closed mid-response");
            filled += n;
            if (Complete(_clientBuffer.AsSpan(0, filled))) return filled;
        }
    }

    private static bool Complete(ReadOnlySpan<byte> received)
    {
        var headEnd = received.IndexOf("\r\n\r\n"u8);
        return headEnd >= 0 && received.Length >= headEnd + 4 + HttpRequestBenchmark.ContentLength(received[..headEnd]);
    }

    private static X509Certificate2 MakeCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=bench.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("bench.test");
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    private static Socket Connect(EndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(endPoint);
        return socket;
    }

    private SslStream ConnectTls(EndPoint endPoint)
    {
        var ssl = new SslStream(new NetworkStream(Connect(endPoint), ownsSocket: true));
        var expected = _certificate.GetCertHashString();
        ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
        {
            TargetHost = "bench.test",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == expected, // the benchmark's own self-signed certificate
        });
        return ssl;
    }

    /// <summary>A backend on 127.0.0.1:0 answering every request head with the same response: plain, or over TLS with the benchmark's certificate.</summary>
    private IPEndPoint StartBackend(bool tls)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        _listeners.Add(listener);
        new Thread(() =>
        {
            while (true)
            {
                Socket connection;
                try
                {
                    connection = listener.Accept();
                }
                catch (Exception)
                {
                    return; // disposed at cleanup
                }
                connection.NoDelay = true;
                var serve = tls ? (ThreadStart)(() => ServeTls(connection)) : () => HttpRequestBenchmark.Serve(connection);
                new Thread(serve) { IsBackground = true, Name = "bench-backend-conn" }.Start();
            }
        }) { IsBackground = true, Name = "bench-backend" }.Start();
        return (IPEndPoint)listener.LocalEndPoint!;
    }

    private void ServeTls(Socket connection)
    {
        var buffer = new byte[4096];
        var filled = 0;
        try
        {
            using var ssl = new SslStream(new NetworkStream(connection, ownsSocket: true));
            ssl.AuthenticateAsServer(new SslServerAuthenticationOptions { ServerCertificate = _certificate });
            while (true)
            {
                var n = ssl.Read(buffer, filled, buffer.Length - filled);
                if (n == 0) return;
                filled += n;
                while (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) is var end and >= 0)
                {
                    ssl.Write(HttpRequestBenchmark.Response);
                    var rest = filled - (end + 4);
                    buffer.AsSpan(end + 4, rest).CopyTo(buffer);
                    filled = rest;
                }
            }
        }
        catch (Exception)
        {
            // The proxy or the client went away: this connection is done.
        }
    }
}
