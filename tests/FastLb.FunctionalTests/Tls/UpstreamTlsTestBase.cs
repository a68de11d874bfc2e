using System.Security.Cryptography.X509Certificates;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Tls;

/// <summary>
/// What the upstream TLS tests share: a backend certificate authority written where a config can name it
/// (<see cref="CaFile"/>), and everything a test starts, disposed in reverse order when it ends.
/// </summary>
public abstract class UpstreamTlsTestBase : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    private protected TempDir Dir { get; } = new();

    private protected X509Certificate2 Ca { get; } = TestCertificates.Authority("backend-ca");

    private protected string CaFile { get; private set; } = null!;

    public Task InitializeAsync()
    {
        CaFile = Dir.File("backend-ca.pem");
        File.WriteAllText(CaFile, Ca.ExportCertificatePem());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        Ca.Dispose();
        Dir.Dispose();
    }

    /// <summary>Disposes <paramref name="item"/> when the test ends.</summary>
    private protected T Own<T>(T item) where T : IAsyncDisposable
    {
        _owned.Add(item);
        return item;
    }
}
