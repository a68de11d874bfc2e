using System.Security.Cryptography.X509Certificates;

namespace FastLb.Core.Config;

/// <summary>One certificate of a TLS listener, loaded and checked when the config is read, and the server names it answers.</summary>
/// <param name="Certificate">The leaf with its private key.</param>
/// <param name="Chain">The intermediates that followed the leaf in the PEM file, sent with it.</param>
/// <param name="Names">Lower-case server names (exact, or <c>*.suffix</c>): the entry's <c>sni</c>, else the certificate's SAN DNS names.</param>
/// <param name="Path">The certificate file, as resolved (status and metrics name it).</param>
internal sealed record TlsCertificateConfig(X509Certificate2 Certificate, X509Certificate2Collection Chain, IReadOnlyList<string> Names, string Path)
{
    /// <summary>When the certificate stops being valid (UTC).</summary>
    public DateTimeOffset NotAfter { get; } = new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
}
