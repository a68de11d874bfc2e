using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] TlsKeys = ["certificates", "min_version", "alpn", "strict_sni", "client_auth"];
    private static readonly string[] TlsClientAuthKeys = ["ca", "required"];
    private static readonly string[] AlpnProtocols = ["http/1.1", "http/1.0"];
    private static readonly string[] TlsCertificateKeys = ["cert", "key", "sni"];
    private static readonly string[] TlsVersions = ["tls1.2", "tls1.3"];

    /// <summary>A certificate that expires sooner than this loads with a warning (check, start and reload say so).</summary>
    public static readonly TimeSpan CertificateExpiryWarning = TimeSpan.FromDays(14);

    /// <summary>tls: { certificates: [{ cert, key, sni? }], min_version }: every certificate is loaded here, so a bad file is a config error with its line.</summary>
    private TlsTerminationConfig? BindTls(ConfigEntry entry, string listener)
    {
        var context = $"tls of {listener}";
        var f = Fields(entry.Value, context, TlsKeys);
        if (f is null) return null;
        var protocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (f.TryGetValue("min_version", out var versionEntry) && Choice(versionEntry, TlsVersions) == "tls1.3") protocols = SslProtocols.Tls13;
        if (!f.TryGetValue("certificates", out var certsEntry) || certsEntry.Value is not ConfigSequence { Items.Count: > 0 } list)
        {
            Error(certsEntry?.Key ?? entry.Key, $"{context} needs certificates, e.g. certificates: [ {{ cert: /etc/fastlb/tls/site.pem, key: /etc/fastlb/tls/site.key }} ]");
            return null;
        }
        var certificates = new List<TlsCertificateConfig>();
        for (var i = 0; i < list.Items.Count; i++)
        {
            if (BindTlsCertificate(list.Items[i], $"certificate {i + 1} of {context}") is { } certificate) certificates.Add(certificate);
        }
        var alpn = f.TryGetValue("alpn", out var alpnEntry) ? BindAlpn(alpnEntry, context) : TlsTerminationConfig.DefaultAlpn;
        var strictSni = f.TryGetValue("strict_sni", out var strictEntry) && Bool(strictEntry) == true;
        var clientAuth = f.TryGetValue("client_auth", out var clientAuthEntry) ? BindClientAuth(clientAuthEntry, context) : null;
        if (certificates.Count != list.Items.Count || alpn is null || (clientAuthEntry is not null && clientAuth is null)) return null;
        return new TlsTerminationConfig { Certificates = certificates, Protocols = protocols, Alpn = alpn, StrictSni = strictSni, ClientAuth = clientAuth };
    }

    /// <summary>alpn: the protocols offered, in preference order; [] offers none (the client gets no ALPN answer). Only HTTP/1.x is served.</summary>
    private List<string>? BindAlpn(ConfigEntry entry, string context)
    {
        if (entry.Value is not ConfigSequence seq)
        {
            Error(entry.Value, $"alpn of {context} is a list, e.g. alpn: [http/1.1]; got {Describe(entry.Value)}");
            return null;
        }
        var protocols = new List<string>();
        foreach (var item in seq.Items)
        {
            var name = (item as ConfigScalar)?.Value;
            if (name is "h2" or "h3")
            {
                Error(item, $"alpn of {context}: '{name}' is not served (FastLb speaks HTTP/1.1 to clients); offer http/1.1");
                return null;
            }
            if (name is null || !AlpnProtocols.Contains(name))
            {
                Error(item, $"alpn of {context}: {item.Describe()} is not a protocol FastLb serves; expected {OneOf(AlpnProtocols)}");
                return null;
            }
            if (!protocols.Contains(name)) protocols.Add(name);
        }
        return protocols;
    }

    /// <summary>client_auth: { ca, required }: mutual TLS against the CA certificates in one PEM file.</summary>
    private TlsClientAuthConfig? BindClientAuth(ConfigEntry entry, string context)
    {
        context = $"client_auth of {context}";
        var f = Fields(entry.Value, context, TlsClientAuthKeys);
        if (f is null) return null;
        if (!f.TryGetValue("ca", out var caEntry))
        {
            Error(entry.Value, $"{context} needs ca, e.g. client_auth: {{ ca: /etc/fastlb/tls/clients-ca.pem, required: true }}");
            return null;
        }
        var required = !f.TryGetValue("required", out var requiredEntry) || Bool(requiredEntry) != false;
        var loaded = LoadAuthorities(caEntry, context);
        if (loaded is not { } ca) return null;
        var (authorities, path) = ca;
        return new TlsClientAuthConfig(authorities, required, path);
    }

    /// <summary>A PEM file of CA certificates (<c>ca:</c>): every one is read and must not have expired.</summary>
    private (X509Certificate2Collection Authorities, string Path)? LoadAuthorities(ConfigEntry caEntry, string context)
    {
        var path = Text(caEntry, "a PEM file of CA certificates");
        if (path is null) return null;
        path = ResolvePath(path);
        if (!File.Exists(path))
        {
            Error(caEntry.Value, $"{context}: CA file '{path}' does not exist");
            return null;
        }
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            Error(caEntry.Value, $"{context}: cannot read CA certificates from '{path}': {e.Message}");
            return null;
        }
        if (authorities.Count == 0)
        {
            Error(caEntry.Value, $"{context}: '{path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            return null;
        }
        foreach (var ca in authorities)
        {
            if (ca.NotAfter.ToUniversalTime() < DateTime.UtcNow)
            {
                Error(caEntry.Value, $"{context}: CA certificate '{ca.Subject}' in '{path}' expired on {ca.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
                return null;
            }
        }
        return (authorities, path);
    }

    private TlsCertificateConfig? BindTlsCertificate(ConfigNode node, string context)
    {
        var f = Fields(node, context, TlsCertificateKeys);
        if (f is null) return null;
        if (!f.TryGetValue("cert", out var certEntry) || !f.TryGetValue("key", out var keyEntry))
        {
            Error(node, $"{context} needs cert and key, e.g. {{ cert: /etc/fastlb/tls/site.pem, key: /etc/fastlb/tls/site.key }}");
            return null;
        }
        var loaded = LoadCertificate(certEntry, keyEntry, context);
        if (loaded is not { } pair) return null;
        var (certificate, chain, certPath) = pair;

        var names = new List<string>();
        if (f.TryGetValue("sni", out var sniEntry))
        {
            var items = sniEntry.Value is ConfigSequence seq ? seq.Items : [sniEntry.Value];
            foreach (var item in items)
            {
                var name = (item as ConfigScalar)?.Value?.ToLowerInvariant();
                if (name is null || !IsServerName(name)) Error(item, $"sni of {context}: {item.Describe()} is not a server name; write a DNS name (api.example.com) or a wildcard for one label (*.example.com)");
                else names.Add(name);
            }
        }
        else
        {
            foreach (var san in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
            {
                names.AddRange(san.EnumerateDnsNames().Select(n => n.ToLowerInvariant()));
            }
        }
        return new TlsCertificateConfig(certificate, chain, names, certPath);
    }

    /// <summary>
    /// A PEM certificate with its key (<c>cert:</c>, <c>key:</c>): both files exist, the key is its owner's only and
    /// belongs to the certificate, the certificate has not expired (a warning when it expires within 14 days).
    /// </summary>
    private (X509Certificate2 Certificate, X509Certificate2Collection Chain, string Path)? LoadCertificate(ConfigEntry certEntry, ConfigEntry keyEntry, string context)
    {
        var certPath = Text(certEntry, "a PEM certificate file");
        var keyPath = Text(keyEntry, "a PEM private key file");
        if (certPath is null || keyPath is null) return null;
        certPath = ResolvePath(certPath);
        keyPath = ResolvePath(keyPath);
        if (!File.Exists(certPath))
        {
            Error(certEntry.Value, $"{context}: certificate file '{certPath}' does not exist");
            return null;
        }
        if (!File.Exists(keyPath))
        {
            Error(keyEntry.Value, $"{context}: key file '{keyPath}' does not exist");
            return null;
        }
        const UnixFileMode groupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                                           | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(keyPath) & groupOrOthers) != 0)
        {
            Error(keyEntry.Value, $"{context}: key file '{keyPath}' is readable by group or others; allow its owner only (chmod 600)");
            return null;
        }

        X509Certificate2 certificate;
        var chain = new X509Certificate2Collection();
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            // A PKCS#12 round trip gives the key a form SslStream can use as a server on Linux.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            chain.ImportFromPemFile(certPath);
            chain.RemoveAt(0); // the leaf itself; what follows it is the chain sent to clients
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException) // unreadable PEM, or a key of another certificate
        {
            Error(keyEntry.Value, $"{context}: cannot load '{certPath}' with key '{keyPath}': {e.Message}");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Error(certEntry.Value, $"{context}: cannot read '{certPath}' or '{keyPath}': {e.Message}");
            return null;
        }
        if (certificate.NotAfter.ToUniversalTime() < DateTime.UtcNow)
        {
            Error(certEntry.Value, $"{context}: certificate '{certPath}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
            certificate.Dispose();
            return null;
        }
        var left = certificate.NotAfter.ToUniversalTime() - DateTime.UtcNow;
        if (left < CertificateExpiryWarning)
        {
            Warning(certEntry.Value, $"{context}: certificate '{certPath}' expires on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC, in {FormatLeft(left)}; renew it and reload");
        }
        return (certificate, chain, certPath);
    }

    private static string FormatLeft(TimeSpan left) =>
        left.TotalDays >= 2 ? $"{(int)left.TotalDays} days" : left.TotalHours >= 2 ? $"{(int)left.TotalHours} hours" : $"{Math.Max(0, (int)left.TotalMinutes)} minutes";

    /// <summary>A path relative to the config file's folder, when the config came from a file.</summary>
    private string ResolvePath(string path) =>
        _baseDirectory is not null && !Path.IsPathRooted(path) ? Path.GetFullPath(Path.Combine(_baseDirectory, path)) : path;
}
