using System.Security.Authentication;

namespace FastLb.Core.Config;

/// <summary>An http listener's <c>tls</c>: it terminates TLS with these certificates before reading requests.</summary>
internal sealed class TlsTerminationConfig
{
    public static readonly IReadOnlyList<string> DefaultAlpn = ["http/1.1"];

    /// <summary>Chosen by the client's SNI (exact name, then a wildcard); the first is the default.</summary>
    public required IReadOnlyList<TlsCertificateConfig> Certificates { get; init; }

    /// <summary>The oldest protocol version a client may use (<c>min_version</c>).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>ALPN protocols offered, in preference order (<c>alpn</c>); empty offers none.</summary>
    public IReadOnlyList<string> Alpn { get; init; } = DefaultAlpn;

    /// <summary>A request whose Host names another server than the connection's SNI is answered 421 (<c>strict_sni</c>).</summary>
    public bool StrictSni { get; init; }

    /// <summary>Mutual TLS (<c>client_auth</c>): clients present a certificate issued by one of these CAs.</summary>
    public TlsClientAuthConfig? ClientAuth { get; init; }
}
