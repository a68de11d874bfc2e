using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// Round robin as an operator checks it with curl: one request per new connection. The test process runs at least two
/// event loops and spreads connections over them, so this also shows that the order is one order for the whole
/// process, not one per loop.
/// </summary>
public sealed class HttpRoundRobinTests
{
    [Fact]
    public async Task NewConnectionEachRequest_TwoBackends_Alternate()
    {
        await using var a = RawHttpBackend.Start("a");
        await using var b = RawHttpBackend.Start("b");
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml([("main", [a, b])], serviceExtra: "balance: round_robin"));

        var names = new List<string?>();
        for (var i = 0; i < 6; i++)
        {
            var response = await lb.SendOnceAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, response.Status);
            names.Add(response.Head["x-backend"]);
        }

        Assert.Equal(["a", "b", "a", "b", "a", "b"], names);
    }
}
