using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using FastLb.Core.Config;

namespace FastLb.Proxy.Tls;

/// <summary>
/// The server side of an http listener's <c>tls</c>: one prebuilt set of server options per certificate, picked per
/// ClientHello by its server name (exact, then a <c>*.suffix</c> wildcard for one label, then the first certificate).
/// </summary>
/// <remarks>
/// Built once per listener config and shared by its connections. Each certificate context is created offline, so no
/// handshake ever waits on a network fetch (OCSP, CRL or AIA chain downloads).
/// </remarks>
internal sealed class TlsTermination
{
    private static readonly List<SslApplicationProtocol> Alpn = [SslApplicationProtocol.Http11];

    private readonly Dictionary<string, SslServerAuthenticationOptions> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SslServerAuthenticationOptions> _wildcard = new(StringComparer.OrdinalIgnoreCase); // by the suffix after "*."
    private readonly SslServerAuthenticationOptions _default;

    public TlsTermination(TlsTerminationConfig config)
    {
        SslServerAuthenticationOptions? first = null;
        foreach (var certificate in config.Certificates)
        {
            var options = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = SslStreamCertificateContext.Create(certificate.Certificate, certificate.Chain, offline: true),
                EnabledSslProtocols = config.Protocols,
                ApplicationProtocols = Alpn,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            };
            first ??= options;
            foreach (var name in certificate.Names)
            {
                // The first certificate that names a server wins, as in the list's order.
                if (name.StartsWith("*.", StringComparison.Ordinal)) _wildcard.TryAdd(name[2..], options);
                else _exact.TryAdd(name, options);
            }
        }
        _default = first ?? throw new ArgumentException("a TLS listener needs at least one certificate", nameof(config));
    }

    /// <summary>The server options for a ClientHello naming <paramref name="serverName"/> (empty: no SNI).</summary>
    public SslServerAuthenticationOptions Select(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName)) return _default;
        if (_exact.TryGetValue(serverName, out var exact)) return exact;
        var dot = serverName.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 && _wildcard.TryGetValue(serverName[(dot + 1)..], out var wildcard)) return wildcard;
        return _default;
    }

    /// <summary>The selection callback SslStream calls with the parsed ClientHello (state: this).</summary>
    public static readonly ServerOptionsSelectionCallback SelectCallback =
        static (_, hello, state, _) => ValueTask.FromResult(((TlsTermination)state!).Select(hello.ServerName));
}
