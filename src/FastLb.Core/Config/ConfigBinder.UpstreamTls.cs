using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] UpstreamTlsKeys = ["enabled", "sni", "ca", "verify", "client_cert", "min_version"];
    private static readonly string[] UpstreamClientCertKeys = ["cert", "key"];

    /// <summary>
    /// A service's tls: { enabled, sni, ca, verify, client_cert: { cert, key }, min_version }: TLS to its backends. The ca file and
    /// the client certificate are loaded here, so a bad file is a config error with its line. Null with
    /// <c>enabled: false</c> or when wrong (errors reported).
    /// </summary>
    private UpstreamTlsConfig? BindUpstreamTls(ConfigEntry entry, string context)
    {
        context = $"tls of {context}";
        var f = Fields(entry.Value, context, UpstreamTlsKeys);
        if (f is null) return null;
        var before = _errors.Count;
        var enabled = !f.TryGetValue("enabled", out var enabledEntry) || Bool(enabledEntry) != false;
        var verify = !f.TryGetValue("verify", out var verifyEntry) || Bool(verifyEntry) != false;
        var protocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (f.TryGetValue("min_version", out var versionEntry) && Choice(versionEntry, TlsVersions) == "tls1.3") protocols = SslProtocols.Tls13;
        string? sni = null;
        if (f.TryGetValue("sni", out var sniEntry) && Text(sniEntry, "a server name") is { } name)
        {
            sni = name.ToLowerInvariant();
            if (sni.StartsWith("*.", StringComparison.Ordinal) || !IsServerName(sni))
            {
                Error(sniEntry.Value, $"sni of {context}: '{name}' is not a server name; write the DNS name the backends' certificates carry (backend.internal)");
            }
        }
        (X509Certificate2Collection Authorities, string Path)? ca = null;
        if (f.TryGetValue("ca", out var caEntry))
        {
            ca = LoadAuthorities(caEntry, context);
            if (ca is not null && !verify) Warning(caEntry.Key, $"{context}: ca is not used with verify: false (any backend certificate is accepted)");
        }
        (X509Certificate2 Certificate, X509Certificate2Collection Chain, string Path)? client = null;
        if (f.TryGetValue("client_cert", out var clientEntry))
        {
            var where = $"client_cert of {context}";
            var c = Fields(clientEntry.Value, where, UpstreamClientCertKeys);
            if (c is not null && c.TryGetValue("cert", out var certEntry) && c.TryGetValue("key", out var keyEntry))
            {
                client = LoadCertificate(certEntry, keyEntry, where);
            }
            else if (c is not null)
            {
                Error(clientEntry.Value, $"{where} needs cert and key, e.g. client_cert: {{ cert: /etc/fastlb/tls/fastlb-client.pem, key: /etc/fastlb/tls/fastlb-client.key }}");
            }
        }
        if (_errors.Count > before || !enabled) return null;
        return new UpstreamTlsConfig
        {
            Sni = sni,
            Verify = verify,
            Protocols = protocols,
            Authorities = ca?.Authorities,
            CaPath = ca?.Path,
            ClientCertificate = client?.Certificate,
            ClientChain = client?.Chain ?? [],
            ClientCertPath = client?.Path,
        };
    }
}
