using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FastLb.Core.Config;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>An http listener's tls: certificates are loaded when the config is read, and a bad one is an error at its line.</summary>
public sealed class TlsConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fastlb-tls-config-");

    public void Dispose() => _dir.Delete(recursive: true);

    private (string Cert, string Key) Write(string name, X509Certificate2 certificate)
    {
        using (certificate) return TestCertificates.WritePem(certificate, _dir.FullName, name);
    }

    private static string Yaml(string tls) => $$"""
        listeners:
          - name: https
            bind: 127.0.0.1:8443
            tls:
        {{tls}}
            routes: [ { service: web } ]
        services:
          web: { pools: { main: [ 127.0.0.1:9001 ] } }
        """;

    private static ConfigError SingleError(string yaml)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        return Assert.Single(ex.Errors);
    }

    [Fact]
    public void Parse_Certificates_LoadedWithNamesAndMinVersion()
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com", "*.example.com"));
        var api = Write("api", TestCertificates.SelfSigned(["api.example.com"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), rsa: true));
        var config = ConfigLoader.Parse(Yaml($$"""
                  certificates:
                    - { cert: {{site.Cert}}, key: {{site.Key}} }
                    - { cert: {{api.Cert}}, key: {{api.Key}}, sni: [API.example.com] }
                  min_version: tls1.3
            """), "ok.yaml");

        var tls = config.Listeners[0].Tls!;
        Assert.Equal(SslProtocols.Tls13, tls.Protocols);
        Assert.Equal(["example.com", "*.example.com"], tls.Certificates[0].Names);
        Assert.Equal(["api.example.com"], tls.Certificates[1].Names);
        Assert.True(tls.Certificates[0].Certificate.HasPrivateKey);
        Assert.True(tls.Certificates[1].Certificate.HasPrivateKey);
        Assert.Null(new ListenerConfig { Name = "x", Bind = new EndPointConfig("127.0.0.1", 1) }.Tls);
    }

    [Fact]
    public void Parse_MissingKeyFile_ErrorAtItsLine()
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com"));
        var error = SingleError(Yaml($$"""
                  certificates:
                    - cert: {{site.Cert}}
                      key: {{_dir.FullName}}/missing.key
            """));
        Assert.Equal(7, error.Line);
        Assert.Contains("missing.key' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeyOfAnotherCertificate_ErrorAtTheKey()
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com"));
        var other = Write("other", TestCertificates.SelfSigned("other.example.com"));
        var error = SingleError(Yaml($$"""
                  certificates:
                    - cert: {{site.Cert}}
                      key: {{other.Key}}
            """));
        Assert.Equal(7, error.Line);
        Assert.Contains("cannot load", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Parse_KeyReadableByOthers_Error()
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com"));
        File.SetUnixFileMode(site.Key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var error = SingleError(Yaml($$"""
                  certificates:
                    - cert: {{site.Cert}}
                      key: {{site.Key}}
            """));
        Assert.Equal(7, error.Line);
        Assert.Contains("readable by group or others", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ExpiredCertificate_Error()
    {
        var old = Write("old", TestCertificates.SelfSigned(["old.example.com"], DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1)));
        var error = SingleError(Yaml($$"""
                  certificates: [ { cert: {{old.Cert}}, key: {{old.Key}} } ]
            """));
        Assert.Contains("expired", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CertificateExpiringWithin14Days_LoadsWithAWarningAtItsLine()
    {
        var soon = Write("soon", TestCertificates.SelfSigned(["soon.example.com"], DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(5)));
        var later = Write("later", TestCertificates.SelfSigned("later.example.com"));
        var config = ConfigLoader.Parse(Yaml($$"""
                  certificates:
                    - { cert: {{later.Cert}}, key: {{later.Key}} }
                    - { cert: {{soon.Cert}}, key: {{soon.Key}} }
            """), "soon.yaml");

        Assert.Equal(2, config.Listeners[0].Tls!.Certificates.Count);
        var warning = Assert.Single(config.Warnings);
        Assert.Equal(7, warning.Line);
        Assert.StartsWith($"soon.yaml:7:{warning.Column}: warning: certificate 2 of tls of listener 'https': certificate '{soon.Cert}' expires on ", warning.ToString(), StringComparison.Ordinal);
        Assert.Contains(", in 4 days; renew it and reload", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckCommand_CertificateExpiringSoon_WarnsOnStderrAndExitsZero()
    {
        var soon = Write("soon", TestCertificates.SelfSigned(["soon.example.com"], DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(3)));
        var path = Path.Combine(_dir.FullName, "fastlb.yaml");
        File.WriteAllText(path, Yaml($$"""
                  certificates: [ { cert: soon.pem, key: soon.key } ]
            """));
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = FastLb.Host.Cli.CheckCommand.Execute(["-c", path], stdout, stderr);

        Assert.Equal(0, code);
        Assert.StartsWith($"{path}:5:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains($": warning: certificate 1 of tls of listener 'https': certificate '{soon.Cert}' expires on ", stderr.ToString(), StringComparison.Ordinal);
        Assert.StartsWith($"{path}: ok with 1 warning(s)", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains($"tls {soon.Cert}: soon.example.com, expires ", stdout.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AlpnStrictSniClientAuth_Bound()
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com"));
        using var ca = TestCertificates.Authority("clients");
        File.WriteAllText(Path.Combine(_dir.FullName, "ca.pem"), ca.ExportCertificatePem());
        var tls = ConfigLoader.Parse(Yaml($$"""
                  certificates: [ { cert: {{site.Cert}}, key: {{site.Key}} } ]
                  alpn: [http/1.1, http/1.0]
                  strict_sni: true
                  client_auth: { ca: {{_dir.FullName}}/ca.pem, required: false }
            """), "ok.yaml").Listeners[0].Tls!;

        Assert.Equal(["http/1.1", "http/1.0"], tls.Alpn);
        Assert.True(tls.StrictSni);
        Assert.False(tls.ClientAuth!.Required);
        Assert.Equal(ca.Thumbprint, Assert.Single(tls.ClientAuth.Authorities).Thumbprint);
    }

    [Theory]
    [InlineData("alpn: [h2, http/1.1]", 6, "alpn of tls of listener 'https': 'h2' is not served (FastLb speaks HTTP/1.1 to clients); offer http/1.1")]
    [InlineData("alpn: http/1.1", 6, "alpn of tls of listener 'https' is a list, e.g. alpn: [http/1.1]; got the value 'http/1.1'")]
    [InlineData("client_auth: { required: true }", 6, "client_auth of tls of listener 'https' needs ca, e.g. client_auth: { ca: /etc/fastlb/tls/clients-ca.pem, required: true }")]
    [InlineData("client_auth: { ca: /nonexistent/ca.pem }", 6, "client_auth of tls of listener 'https': CA file '/nonexistent/ca.pem' does not exist")]
    public void Parse_BadAlpnOrClientAuth_ErrorAtItsLine(string line, int expectedLine, string message)
    {
        var site = Write("site", TestCertificates.SelfSigned("example.com"));
        var error = SingleError(Yaml($$"""
                  certificates: [ { cert: {{site.Cert}}, key: {{site.Key}} } ]
                  {{line}}
            """));
        Assert.Equal(expectedLine, error.Line);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_TlsOnTcpListener_Error()
    {
        var error = SingleError("""
            listeners:
              - { name: raw, bind: 127.0.0.1:8081, protocol: tcp, service: web, tls: {} }
            services:
              web: { pools: { main: [ 127.0.0.1:9001 ] } }
            """);
        Assert.Contains("only for http listeners", error.Message, StringComparison.Ordinal);
    }
}
