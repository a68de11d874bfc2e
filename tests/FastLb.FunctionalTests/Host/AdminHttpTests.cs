using System.Net;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>The read-only admin endpoint (admin.listen): status JSON, Prometheus metrics, dashboard, no writes.</summary>
public class AdminHttpTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly DemoBackends _backends = new();
    private HttpLb _lb = null!;
    private IPEndPoint _admin = null!;
    private IPEndPoint _web = null!;

    public async Task InitializeAsync()
    {
        _lb = await HttpLb.StartAsync("admin:\n  listen: 127.0.0.1:0\n" + _backends.TcpConfig());
        _admin = _lb.Runtime.Admin!.EndPoint;
        _web = _lb.EndPoint;
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    private async Task<(int Status, string Body)> RequestAsync(string method, string path)
    {
        await using var client = await HttpClientConnection.ConnectAsync(_admin);
        var response = await client.RequestAsync($"{method} {path} HTTP/1.1\r\nHost: admin\r\n\r\n");
        return (response.Status, response.BodyText);
    }

    [Fact]
    public async Task Status_Get_ReturnsTheControlStatusJson()
    {
        var (status, body) = await RequestAsync("GET", "/status");

        Assert.Equal(200, status);
        using var doc = JsonDocument.Parse(body);
        Assert.Equal(100, doc.RootElement.GetProperty("services").GetProperty("web").GetProperty("shares").GetProperty("blue").GetInt32());
    }

    [Fact]
    public async Task Metrics_AfterTraffic_CountsRequestsPerBackendInPrometheusText()
    {
        await HttpClientConnection.GetBackendOnceAsync(_web, Timeout);
        await HttpClientConnection.GetBackendOnceAsync(_web, Timeout);

        var (status, body) = await RequestAsync("GET", "/metrics");

        Assert.Equal(200, status);
        Assert.Contains("# TYPE fastlb_backend_started_total counter", body);
        Assert.Equal(2, FastLb.Tests.Common.PrometheusExposition.Sum(body, "fastlb_backend_started_total", ("service", "web"), ("pool", "blue")));
        Assert.Contains("fastlb_pool_share_percent{service=\"web\",pool=\"green\"} 0", body);
    }

    [Fact]
    public async Task Metrics_HealthSeries_OneStatePerBackendAndPoolCounts()
    {
        var (_, body) = await RequestAsync("GET", "/metrics");

        var lines = body.Split('\n');
        Assert.Contains("# TYPE fastlb_backend_health_state gauge", lines);
        Assert.Contains("# TYPE fastlb_backend_health_checks_total counter", lines);
        Assert.Contains("# TYPE fastlb_backend_ejections_total counter", lines);
        Assert.Contains("# TYPE fastlb_backend_effective_weight gauge", lines);
        // No health check configured: every backend is healthy, exactly one state series is 1 per backend.
        var states = lines.Where(l => l.StartsWith("fastlb_backend_health_state{service=\"web\",pool=\"blue\"", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(states);
        Assert.All(states, l => Assert.EndsWith(l.Contains("state=\"healthy\"") ? " 1" : " 0", l));
        Assert.Contains(lines, l => l.StartsWith("fastlb_pool_healthy_backends{service=\"web\",pool=\"blue\"} ", StringComparison.Ordinal));
        Assert.Contains("fastlb_pool_panic{service=\"web\",pool=\"blue\"} 0", lines);
    }

    [Fact]
    public async Task Dashboard_Get_ServesThePageThatPollsStatus()
    {
        var (status, body) = await RequestAsync("GET", "/");

        Assert.Equal(200, status);
        Assert.Contains("fetch('/status'", body);
    }

    [Fact]
    public async Task Post_Anything_RefusedAsReadOnly()
    {
        var (status, _) = await RequestAsync("POST", "/status");

        Assert.Equal(405, status);
        Assert.Equal(100, (await RequestAsync("GET", "/status")).Body.Contains("\"blue\":100") ? 100 : 0);
    }
}
