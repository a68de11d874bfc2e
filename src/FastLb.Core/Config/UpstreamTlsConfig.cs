using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace FastLb.Core.Config;

/// <summary>A service's <c>tls</c>: FastLb speaks TLS to the service's backends, loaded and checked when the config is read.</summary>
internal sealed class UpstreamTlsConfig
{
    /// <summary>The server name sent (SNI) and verified; null = each backend's address host (an IP is verified against the certificate's IP names, and not sent).</summary>
    public string? Sni { get; init; }

    /// <summary>False: any certificate is accepted (encryption without authentication).</summary>
    public bool Verify { get; init; } = true;

    /// <summary>The protocol versions offered (<c>min_version</c>): a backend that speaks only older ones fails the handshake.</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>The oldest version offered, as written in the config (tls1.2 or tls1.3).</summary>
    public string MinVersion => (Protocols & SslProtocols.Tls12) != 0 ? "tls1.2" : "tls1.3";

    /// <summary>The only roots trusted for backend certificates (the <c>ca</c> file); null = the system's roots.</summary>
    public X509Certificate2Collection? Authorities { get; init; }

    /// <summary>The <c>ca</c> file, as resolved.</summary>
    public string? CaPath { get; init; }

    /// <summary><c>client_cert</c>: the certificate (with its key) presented to backends that ask for one; null = none.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>The intermediates that followed the client certificate in its PEM file.</summary>
    public X509Certificate2Collection ClientChain { get; init; } = [];

    /// <summary>The client certificate file, as resolved.</summary>
    public string? ClientCertPath { get; init; }

    /// <summary>
    /// What the settings are, as text: two configs with the same fingerprint make interchangeable connections, so a
    /// reload that did not change the block keeps the pooled ones.
    /// </summary>
    public string Fingerprint =>
        field ??= $"sni={Sni}|verify={Verify}|min={MinVersion}|ca={string.Join(",", Authorities?.Select(a => a.Thumbprint) ?? [])}|client={ClientCertificate?.Thumbprint}";
}
