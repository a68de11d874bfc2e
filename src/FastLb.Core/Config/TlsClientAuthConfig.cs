using System.Security.Cryptography.X509Certificates;

namespace FastLb.Core.Config;

/// <summary>A TLS listener's <c>client_auth</c>: client certificates must chain to <paramref name="Authorities"/>.</summary>
/// <param name="Authorities">The CA certificates from the <c>ca</c> file, the only roots trusted for clients.</param>
/// <param name="Required">True: a client without a certificate fails the handshake; false: it may go without one, but one it sends must verify.</param>
/// <param name="Path">The CA file, as resolved.</param>
internal sealed record TlsClientAuthConfig(X509Certificate2Collection Authorities, bool Required, string Path);
