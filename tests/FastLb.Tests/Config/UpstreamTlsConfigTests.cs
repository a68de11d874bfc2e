using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FastLb.Core.Config;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>A service's tls: the ca file and the client certificate are loaded when the config is read, and a bad one is an error at its line.</summary>
public sealed class UpstreamTlsConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fastlb-upstream-tls-");
    private readonly string _caFile;

    public UpstreamTlsConfigTests()
    {
        using var ca = TestCertificates.Authority("backend-ca");
        _caFile = Path.Combine(_dir.FullName, "ca.pem");
        File.WriteAllText(_caFile, ca.ExportCertificatePem());
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private (string Cert, string Key) Write(string name, X509Certificate2 certificate)
    {
        using (certificate) return TestCertificates.WritePem(certificate, _dir.FullName, name);
    }

    private static string Yaml(string tls, string extra = "") => $$"""
        listeners:
          - { name: web, bind: 127.0.0.1:8080, routes: [ { service: api } ] }
        services:
          api:
            tls:
        {{tls}}
        {{extra}}
            pools: { main: [ 127.0.0.1:9443 ] }
        """;

    private static ConfigError SingleError(string yaml)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "bad.yaml"));
        return Assert.Single(ex.Errors);
    }

    [Fact]
    public void Parse_ServiceTls_CaAndClientCertificateLoaded()
    {
        using var clientCa = TestCertificates.Authority("clients");
        var client = Write("client", TestCertificates.IssuedClient(clientCa, "fastlb"));
        var config = ConfigLoader.Parse(Yaml($$"""
                  enabled: true
                  sni: Backend.Internal
                  ca: {{_caFile}}
                  verify: true
                  client_cert: { cert: {{client.Cert}}, key: {{client.Key}} }
            """), "ok.yaml");

        var tls = config.Services[0].Tls!;
        Assert.Equal("backend.internal", tls.Sni);
        Assert.True(tls.Verify);
        Assert.Equal("CN=backend-ca", Assert.Single(tls.Authorities!).Subject);
        Assert.True(tls.ClientCertificate!.HasPrivateKey);
        Assert.Equal(client.Cert, tls.ClientCertPath);
    }

    [Fact]
    public void Parse_EnabledFalse_ServicePlain()
    {
        var config = ConfigLoader.Parse(Yaml($$"""
                  enabled: false
                  ca: {{_caFile}}
            """), "ok.yaml");

        Assert.Null(config.Services[0].Tls);
    }

    [Fact]
    public void Parse_MissingCaFile_ErrorAtItsLine()
    {
        var error = SingleError(Yaml($$"""
                  sni: backend.internal
                  ca: {{_dir.FullName}}/missing-ca.pem
            """));

        Assert.Equal((7, 11), (error.Line, error.Column));
        Assert.Contains("tls of service 'api': CA file", error.Message, StringComparison.Ordinal);
        Assert.Contains("missing-ca.pem' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClientKeyOfAnotherCertificate_ErrorAtTheKey()
    {
        using var clientCa = TestCertificates.Authority("clients");
        var client = Write("client", TestCertificates.IssuedClient(clientCa, "fastlb"));
        var other = Write("other", TestCertificates.IssuedClient(clientCa, "someone"));
        var error = SingleError(Yaml($$"""
                  client_cert:
                    cert: {{client.Cert}}
                    key: {{other.Key}}
            """));

        Assert.Equal(8, error.Line);
        Assert.Contains("client_cert of tls of service 'api': cannot load", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Parse_ClientKeyReadableByOthers_Error()
    {
        using var clientCa = TestCertificates.Authority("clients");
        var client = Write("client", TestCertificates.IssuedClient(clientCa, "fastlb"));
        File.SetUnixFileMode(client.Key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var error = SingleError(Yaml($$"""
                  client_cert: { cert: {{client.Cert}}, key: {{client.Key}} }
            """));

        Assert.Contains("readable by group or others", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MinVersion_DefaultOffersTls12And13_Tls13OffersOnlyIt()
    {
        var byDefault = ConfigLoader.Parse(Yaml("""
                  sni: backend.internal
            """), "ok.yaml").Services[0].Tls!;
        var tls13 = ConfigLoader.Parse(Yaml("""
                  min_version: tls1.3
            """), "ok.yaml").Services[0].Tls!;

        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, byDefault.Protocols);
        Assert.Equal(SslProtocols.Tls13, tls13.Protocols);
        Assert.NotEqual(byDefault.Fingerprint, tls13.Fingerprint); // pooled connections of the old version are not reused after a reload
    }

    [Fact]
    public void Parse_MinVersionUnknown_ErrorAtItsLineNamesTheChoices()
    {
        var error = SingleError(Yaml("""
                  min_version: tls1.1
            """));

        Assert.Equal(6, error.Line);
        Assert.Contains("tls1.1", error.Message, StringComparison.Ordinal);
        Assert.Contains("tls1.2", error.Message, StringComparison.Ordinal);
        Assert.Contains("tls1.3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WildcardSni_Error()
    {
        var error = SingleError(Yaml("""
                  sni: "*.internal"
            """));

        Assert.Equal(6, error.Line);
        Assert.Contains("is not a server name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HttpHealthCheckWithTls_AcceptedAndRunsOverTheServiceTls()
    {
        var config = ConfigLoader.Parse(Yaml($$"""
                  ca: {{_caFile}}
            """, "    health_check: { type: http, path: /healthz }"), "ok.yaml");

        var service = config.Services[0];
        Assert.Equal(HealthCheckKind.Http, service.HealthCheck!.Kind);
        Assert.NotNull(service.Tls);
    }

    [Fact]
    public void Parse_UnknownKey_ErrorNamesTheKnownOnes()
    {
        var error = SingleError(Yaml("""
                  verify_host: true
            """));

        Assert.Contains("verify_host", error.Message, StringComparison.Ordinal);
        Assert.Contains("client_cert", error.Message, StringComparison.Ordinal);
    }
}
