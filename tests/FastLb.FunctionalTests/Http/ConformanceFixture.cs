using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>One FastLb with a catch-all http route to one recording backend, shared by the conformance tests.</summary>
public sealed class ConformanceFixture : IAsyncLifetime
{
    internal RawHttpBackend Backend { get; private set; } = null!;
    internal HttpLb Lb { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // Answers with what it understood, so a test can tell exactly what was forwarded.
        Backend = RawHttpBackend.Start("conf-1", async (request, connection, ct) =>
        {
            await connection.SendAsync(RawHttpBackend.Ok("conf-1", $"{request.Method} {request.Target} body={request.BodyText}"), ct);
            return true;
        });
        Lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(Backend));
    }

    public async Task DisposeAsync()
    {
        await Lb.DisposeAsync();
        await Backend.DisposeAsync();
    }
}
