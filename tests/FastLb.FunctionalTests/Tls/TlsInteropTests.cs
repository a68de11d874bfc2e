using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FastLb.FunctionalTests.Host;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>A TLS listener against real clients (curl, openssl s_client) and the traffic that stresses the TLS layer: a 4 MiB chunked upload and a WebSocket upgrade.</summary>
public sealed class TlsInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();
    private readonly RawHttpBackend _echo = RawHttpBackend.StartEchoBody("echo");
    private readonly RawHttpBackend _ws = RawHttpBackend.StartUpgradeEcho();
    private readonly X509Certificate2 _site = TestCertificates.SelfSigned("site.test");
    private HttpLb _lb = null!;
    private string _certPath = null!;

    public async Task InitializeAsync()
    {
        var site = TestCertificates.WritePem(_site, _dir.Path, "site");
        _certPath = site.Cert;
        _lb = await HttpLb.StartAsync($$"""
            listeners:
              - name: https
                bind: 127.0.0.1:0
                tls:
                  certificates: [ { cert: {{site.Cert}}, key: {{site.Key}} } ]
                routes:
                  - { match: { path_prefix: /chat }, service: chat }
                  - { service: echo }
            services:
              echo: { pools: { main: [ {{_echo.EndPoint}} ] } }
              chat: { pools: { main: [ {{_ws.EndPoint}} ] } }
            """);
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _echo.DisposeAsync();
        await _ws.DisposeAsync();
        _site.Dispose();
        _dir.Dispose();
    }

    private int Port => _lb.EndPoint.Port;

    [ToolFact("curl", "curl")]
    public async Task Curl_Resolve_VerifiesTheCertificateAndGets200()
    {
        var (code, output) = await RunAsync("curl", "-sS", "--resolve", $"site.test:{Port}:127.0.0.1", "--cacert", _certPath,
            "-w", "\n%{http_code} %{ssl_verify_result} %{http_version}", $"https://site.test:{Port}/hello");
        Assert.True(code == 0, output);
        Assert.EndsWith("200 0 1.1", output.TrimEnd(), StringComparison.Ordinal);
    }

    [ToolFact("curl", "curl")]
    public async Task Curl_ChunkedUpload4MiB_ReachesTheBackendWhole()
    {
        var body = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(body);
        var upload = _dir.File("upload.bin");
        var echoed = _dir.File("echoed.bin");
        await File.WriteAllBytesAsync(upload, body);
        var (code, output) = await RunAsync("curl", "-sS", "--resolve", $"site.test:{Port}:127.0.0.1", "--cacert", _certPath,
            "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + upload, "-D", "-", "-o", echoed, $"https://site.test:{Port}/upload");
        Assert.True(code == 0, output);
        Assert.Contains("x-framing: chunked", output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(await File.ReadAllBytesAsync(echoed)));
    }

    [ToolFact("openssl", "openssl")]
    public async Task OpenSslClient_VerifiesNameAndNegotiatesHttp11()
    {
        // "Q" on its own line tells s_client to close once the handshake is done (requests through s_client: TlsListenerOptionsTests).
        var (code, output) = await RunWithInputAsync("openssl", "Q\n",
            "s_client", "-connect", $"127.0.0.1:{Port}", "-servername", "site.test", "-CAfile", _certPath,
            "-verify_hostname", "site.test", "-verify_return_error", "-alpn", "h2,http/1.1");
        Assert.True(code == 0, output);
        Assert.Contains("Verify return code: 0 (ok)", output, StringComparison.Ordinal);
        Assert.Contains("ALPN protocol: http/1.1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocketUpgrade_OverTls_101ThenBytesBothWays()
    {
        await using var client = await HttpClientConnection.ConnectTlsAsync(_lb.EndPoint, new SslClientAuthenticationOptions
        {
            TargetHost = "site.test",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == _site.Thumbprint,
        });
        var upgrade = await client.RequestAsync("GET /chat HTTP/1.1\r\nHost: site.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        Assert.Equal(101, upgrade.Status);
        for (var i = 0; i < 3; i++)
        {
            var message = Encoding.ASCII.GetBytes($"frame {i} " + new string('x', 20_000 * i));
            await client.SendAsync(message);
            Assert.Equal(message, await client.ReadExactlyAsync(message.Length));
        }
    }

    private static Task<(int Code, string Output)> RunAsync(string tool, params string[] args) => RunWithInputAsync(tool, null, args);

    /// <summary>Runs a client tool to its end (at most 30 s); returns its exit code and what it printed (stdout, then stderr).</summary>
    private static async Task<(int Code, string Output)> RunWithInputAsync(string tool, string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            // s_client stops reading its answer once its input ends, so the input stays open; the server's close ends it (-ign_eof).
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
                await process.StandardInput.FlushAsync();
            }
            else
            {
                process.StandardInput.Close();
            }
            try
            {
                await process.WaitForExitAsync().WaitAsync(Timeout);
            }
            catch (TimeoutException)
            {
                process.Kill(); // what it printed so far goes into the assertion's message
                await process.WaitForExitAsync().WaitAsync(Timeout);
                return (-1, $"{tool} did not finish within {Timeout.TotalSeconds} s:\n" + await output.WaitAsync(Timeout) + await error.WaitAsync(Timeout));
            }
            return (process.ExitCode, await output.WaitAsync(Timeout) + await error.WaitAsync(Timeout));
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
