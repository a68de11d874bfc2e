using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Tls;

/// <summary>A backend that terminates TLS itself with its own certificate, then sends its name and echoes.</summary>
internal sealed class TlsEchoBackend : IAsyncDisposable
{
    private readonly LoopbackBackend _server;

    private TlsEchoBackend(string name, X509Certificate2 certificate)
    {
        Name = name;
        Certificate = certificate;
        _server = LoopbackBackend.Start(name, ServeAsync);
    }

    public string Name { get; }
    public X509Certificate2 Certificate { get; }
    public IPEndPoint EndPoint => _server.EndPoint;
    public int AcceptedConnections => _server.AcceptedConnections;

    public static TlsEchoBackend Start(string name, params string[] dnsNames) => new(name, TestCertificates.SelfSigned(dnsNames));

    private async Task ServeAsync(Socket socket, CancellationToken ct)
    {
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = Certificate }, ct);
            await ssl.WriteAsync(Encoding.ASCII.GetBytes(Name + "\n"), ct);
            var buffer = new byte[4096];
            int n;
            while ((n = await ssl.ReadAsync(buffer, ct)) > 0) await ssl.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Certificate.Dispose();
    }
}
