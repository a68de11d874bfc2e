using System.Security.Authentication;

namespace FastLb.Core.Config;

/// <summary>An http listener's <c>tls</c>: it terminates TLS with these certificates before reading requests.</summary>
internal sealed class TlsTerminationConfig
{
    /// <summary>Chosen by the client's SNI (exact name, then a wildcard); the first is the default.</summary>
    public required IReadOnlyList<TlsCertificateConfig> Certificates { get; init; }

    /// <summary>The oldest protocol version a client may use (<c>min_version</c>).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;
}
