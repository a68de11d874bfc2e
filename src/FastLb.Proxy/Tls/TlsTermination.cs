using System.Net.Security;
using System.Security.Cryptography;
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
    /// <summary>The client-auth EKU: a client certificate restricted to other purposes is refused.</summary>
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    // mTLS: the chain is built against the ca file only (policy below); the callback then only reads the verdict.
    private static readonly RemoteCertificateValidationCallback ClientCertificateRequired = static (_, _, _, errors) => errors == SslPolicyErrors.None;
    private static readonly RemoteCertificateValidationCallback ClientCertificateOptional =
        static (_, _, _, errors) => errors is SslPolicyErrors.None or SslPolicyErrors.RemoteCertificateNotAvailable;

    private readonly Dictionary<string, SslServerAuthenticationOptions> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SslServerAuthenticationOptions> _wildcard = new(StringComparer.OrdinalIgnoreCase); // by the suffix after "*."
    private readonly SslServerAuthenticationOptions _default;

    public TlsTermination(TlsTerminationConfig config)
    {
        StrictSni = config.StrictSni;
        var alpn = config.Alpn.Count == 0 ? null : config.Alpn.Select(p => new SslApplicationProtocol(p)).ToList();
        var clientChain = config.ClientAuth is { } auth ? ClientChainPolicy(auth) : null;
        SslServerAuthenticationOptions? first = null;
        foreach (var certificate in config.Certificates)
        {
            var options = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = SslStreamCertificateContext.Create(certificate.Certificate, certificate.Chain, offline: true),
                EnabledSslProtocols = config.Protocols,
                ApplicationProtocols = alpn,
                ClientCertificateRequired = clientChain is not null, // asks for a certificate; the callback decides whether none will do
                CertificateChainPolicy = clientChain,
                RemoteCertificateValidationCallback = config.ClientAuth is null ? null
                    : config.ClientAuth.Required ? ClientCertificateRequired : ClientCertificateOptional,
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

    /// <summary>strict_sni: requests must name the server the ClientHello asked for.</summary>
    public bool StrictSni { get; }

    /// <summary>Client certificates chain to the ca file's certificates only, offline (no revocation or AIA fetches).</summary>
    private static X509ChainPolicy ClientChainPolicy(TlsClientAuthConfig auth)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(auth.Authorities);
        policy.ApplicationPolicy.Add(ClientAuthentication);
        return policy;
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
