using System.Net.Sockets;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>A backend that sends a 200 head and then resets the connection: the client got a cut response, so the pool counts an error.</summary>
public sealed class BrokenResponseTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>200 with Content-Length 100, five bytes of it, then RST (linger 0).</summary>
    private static async Task<bool> ResetAfterHeadAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        await connection.SendAsync("HTTP/1.1 200 OK\r\nx-backend: green\r\nContent-Length: 100\r\n\r\nhello", ct);
        connection.Socket.LingerState = new LingerOption(true, 0);
        connection.Socket.Close();
        return false;
    }

    [Fact]
    public async Task ResetAfter200Head_CountsAsError_InStatsAndRolloutVerdict()
    {
        await using var blue = CanaryBackend.Start("blue");
        await using var green = RawHttpBackend.Start("green", ResetAfterHeadAsync);
        await using var lb = await HttpLb.StartAsync(
            "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
            + $"services:\n  web:\n    active: blue\n    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n");
        await using var clients = new RolloutClients(lb.EndPoint, keepAlive: 4);
        await clients.WaitForAnswersAsync(20, Wait);

        await lb.CtlOkAsync("rollout web green --steps 20,100 --interval 5s --min-requests 10 --max-error-rate 5%");
        JsonElement rollout = default;
        await HttpLb.WaitUntilAsync(async () =>
        {
            rollout = (await lb.CtlOkAsync("rollout-status web")).GetProperty("rollout");
            return rollout.GetProperty("state").GetString() == "rolled_back";
        }, "the rollout rolled back", Wait);

        var verdict = Assert.Single(rollout.GetProperty("verdicts").EnumerateArray());
        Assert.Equal("failed", verdict.GetProperty("outcome").GetString());
        var poolStats = verdict.GetProperty("pool_stats");
        Assert.True(poolStats.GetProperty("requests").GetInt64() >= 10, poolStats.ToString());
        Assert.Equal(poolStats.GetProperty("requests").GetInt64(), poolStats.GetProperty("errors").GetInt64());
        Assert.Matches(@"^rollout web green aborted at step 20%: error rate 100% > 5%", rollout.GetProperty("outcome").GetString());
        Assert.NotEmpty(clients.Failures); // the cut responses did reach clients: green's own fault, not the machinery's

        // ctl stats shows the same: each cut response is a 2xx, a reset and an error.
        JsonElement stats = default;
        await HttpLb.WaitUntilAsync(async () =>
        {
            stats = (await lb.CtlOkAsync("stats web green --window 60s")).GetProperty("pools").GetProperty("green");
            return stats.GetProperty("requests").GetInt64() >= 10;
        }, "green's requests are in the closed seconds of the window", Wait);
        Assert.Equal(stats.GetProperty("requests").GetInt64(), stats.GetProperty("broken_responses").GetInt64());
        Assert.Equal(stats.GetProperty("requests").GetInt64(), stats.GetProperty("errors").GetInt64());
        Assert.Equal(stats.GetProperty("requests").GetInt64(), stats.GetProperty("status").GetProperty("2xx").GetInt64());
        Assert.Equal(1.0, stats.GetProperty("error_rate").GetDouble());
    }
}
