using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Tls;

/// <summary>
/// A backend that terminates TLS with its own certificate (optionally requiring a client certificate from a CA) and
/// records what a user would check: the first byte of each connection (0x16 = a TLS handshake, anything else = plain
/// text), the SNI and client certificate of each handshake. HTTP mode answers every request with 200 and a body naming
/// them; echo mode echoes bytes and ends its side when the client ends its.
/// </summary>
internal sealed class TlsHttpBackend : IAsyncDisposable
{
    private readonly LoopbackBackend _server;
    private readonly X509Certificate2? _clientAuthority;
    private readonly bool _echo;
    private readonly SslProtocols _protocols;
    private int _handshakes;
    private int _requests;

    private TlsHttpBackend(X509Certificate2 certificate, X509Certificate2? clientAuthority, bool echo, SslProtocols protocols)
    {
        _protocols = protocols;
        Certificate = certificate;
        _clientAuthority = clientAuthority;
        _echo = echo;
        _server = LoopbackBackend.Start("tls-backend", ServeAsync);
    }

    public X509Certificate2 Certificate { get; }
    public IPEndPoint EndPoint => _server.EndPoint;
    public int AcceptedConnections => _server.AcceptedConnections;
    public int Handshakes => Volatile.Read(ref _handshakes);

    /// <summary>HTTP requests answered (HTTP mode).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The first byte each connection sent, in accept order.</summary>
    public ConcurrentQueue<byte> FirstBytes { get; } = new();

    /// <summary>The SNI of each completed handshake ("" when none was sent).</summary>
    public ConcurrentQueue<string> ServerNames { get; } = new();

    /// <summary>Bytes the echo mode received, over all connections.</summary>
    public ConcurrentQueue<byte[]> Received { get; } = new();

    /// <param name="clientAuthority">When set, a client certificate issued by it is required.</param>
    /// <param name="protocols">The versions it accepts (default: what the system allows).</param>
    public static TlsHttpBackend Start(X509Certificate2 certificate, X509Certificate2? clientAuthority = null, bool echo = false, SslProtocols protocols = SslProtocols.None) =>
        new(certificate, clientAuthority, echo, protocols);

    private async Task ServeAsync(Socket socket, CancellationToken ct)
    {
        var first = new byte[1];
        try
        {
            if (await socket.ReceiveAsync(first, SocketFlags.Peek, ct) == 0) return;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return;
        }
        FirstBytes.Enqueue(first[0]);
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = Certificate,
                EnabledSslProtocols = _protocols,
                ClientCertificateRequired = _clientAuthority is not null,
                RemoteCertificateValidationCallback = _clientAuthority is null ? null : (_, c, _, _) => IssuedByClientAuthority(c),
            }, ct);
            Interlocked.Increment(ref _handshakes);
            var sni = ssl.TargetHostName ?? "";
            ServerNames.Enqueue(sni);
            var client = ssl.RemoteCertificate?.Subject ?? "none";
            if (_echo)
            {
                var buffer = new byte[16384];
                int n;
                while ((n = await ssl.ReadAsync(buffer, ct)) > 0)
                {
                    Received.Enqueue(buffer[..n]);
                    await ssl.WriteAsync(buffer.AsMemory(0, n), ct);
                }
                await ssl.ShutdownAsync();
                socket.Shutdown(SocketShutdown.Send);
                return;
            }
            var pending = new StringBuilder();
            var read = new byte[4096];
            while (true)
            {
                var n = await ssl.ReadAsync(read, ct);
                if (n == 0) return;
                pending.Append(Encoding.Latin1.GetString(read, 0, n));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    pending.Remove(0, end + 4);
                    Interlocked.Increment(ref _requests);
                    var body = $"sni={sni};client={client}";
                    await ssl.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"), ct);
                }
            }
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException)
        {
        }
    }

    private bool IssuedByClientAuthority(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(_clientAuthority!);
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Certificate.Dispose();
    }
}
