using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>/metrics: strictly valid Prometheus text (and promtool's check when installed), counters that move by exactly the traffic sent.</summary>
public class MetricsTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly DemoBackends _backends = new();
    private HttpLb _lb = null!;
    private FastLbRuntime _runtime = null!;
    private IPEndPoint _admin = null!;
    private IPEndPoint _web = null!;

    public async Task InitializeAsync()
    {
        var yaml = "admin:\n  listen: 127.0.0.1:0\n" + _backends.TcpConfig(drainTimeout: "30s")
            .Replace("    protocol: tcp\n    service: web\n", "    protocol: http\n    routes:\n      - match: { path_prefix: /status/ }\n        service: web\n      - match: { path: / }\n        service: web\n");
        _lb = await HttpLb.StartAsync(yaml);
        _runtime = _lb.Runtime;
        _admin = _runtime.Admin!.EndPoint;
        _web = _lb.EndPoint;
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Metrics_AfterTraffic_CountsExactlyTheRequestsPerStatusClass()
    {
        foreach (var path in new[] { "/", "/", "/", "/status/404", "/status/404", "/status/503" }) await HttpClientConnection.GetOnceAsync(_web, path);
        await HttpClientConnection.GetOnceAsync(_web, "/no-route"); // FastLb answers 404 itself: the listener counts it, no backend does

        var text = await ScrapeAsync();

        Assert.Empty(PrometheusExposition.Validate(text));
        (string, string)[] blue = [("service", "web"), ("pool", "blue")];
        Assert.Equal(3, PrometheusExposition.Sum(text, "fastlb_backend_requests_total", [.. blue, ("code", "2xx")]));
        Assert.Equal(2, PrometheusExposition.Sum(text, "fastlb_backend_requests_total", [.. blue, ("code", "4xx")]));
        Assert.Equal(1, PrometheusExposition.Sum(text, "fastlb_backend_requests_total", [.. blue, ("code", "5xx")]));
        Assert.Equal(0, PrometheusExposition.Sum(text, "fastlb_backend_requests_total", ("pool", "green")));
        Assert.Equal(6, PrometheusExposition.Sum(text, "fastlb_pool_requests_total", blue));
        Assert.Equal(3, PrometheusExposition.Sum(text, "fastlb_listener_requests_total", ("listener", "web"), ("code", "4xx")));
        Assert.Equal(6, PrometheusExposition.Sum(text, "fastlb_backend_request_duration_seconds_count", blue));
        Assert.Equal(6, PrometheusExposition.Sum(text, "fastlb_backend_response_head_seconds_count", blue));
        Assert.Equal(7, PrometheusExposition.Sum(text, "fastlb_listener_connections_total", ("listener", "web")));
        Assert.Equal(100, PrometheusExposition.Sum(text, "fastlb_pool_share_percent", blue));
        Assert.Equal(1, PrometheusExposition.Sum(text, "fastlb_build_info"));
        Assert.True(PrometheusExposition.Sum(text, "fastlb_process_open_fds") > 0);
        Assert.True(PrometheusExposition.Sum(text, "fastlb_routing_generation") >= 1);
    }

    [Fact]
    public async Task Metrics_Swap_ShowsTheDrainingPoolAndItsDeadline()
    {
        // A request in flight on blue: its body is still to come, so blue keeps one live request after the swap.
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync(_web).WaitAsync(Timeout);
        await slow.SendAsync("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\n"u8.ToArray(), SocketFlags.None).WaitAsync(Timeout);
        await FastLb.FunctionalTests.Http.Poll.UntilAsync(() => _runtime.Router.Current.FindService("web")!.FindPool("blue")!.Live == 1, "blue has a request in flight");
        _runtime.Controller.Swap("web", "green");

        var text = await ScrapeAsync();

        Assert.Empty(PrometheusExposition.Validate(text));
        Assert.Equal(0, PrometheusExposition.Sum(text, "fastlb_pool_share_percent", ("pool", "blue")));
        Assert.Equal(100, PrometheusExposition.Sum(text, "fastlb_pool_share_percent", ("pool", "green")));
        Assert.Equal(1, PrometheusExposition.Sum(text, "fastlb_pool_draining", ("pool", "blue")));
        Assert.Equal(1, PrometheusExposition.Sum(text, "fastlb_pool_live", ("pool", "blue")));
        Assert.InRange(PrometheusExposition.Sum(text, "fastlb_pool_drain_deadline_seconds", ("pool", "blue")), 1, 30);
    }

    [Fact]
    public async Task Metrics_PromtoolCheck_Passes()
    {
        if (!File.Exists("/usr/bin/promtool"))
        {
            // Skipped, not failed: .ci/run installs the Debian package "prometheus" that provides it.
            Console.WriteLine("promtool not installed (Debian package prometheus): only the built-in strict check ran");
            return;
        }
        foreach (var path in new[] { "/", "/status/500", "/status/404" }) await HttpClientConnection.GetOnceAsync(_web, path);
        var text = await ScrapeAsync();

        var info = new ProcessStartInfo("/usr/bin/promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(info)!;
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync().WaitAsync(Timeout) + await promtool.StandardError.ReadToEndAsync().WaitAsync(Timeout);
        await promtool.WaitForExitAsync().WaitAsync(Timeout);

        Assert.True(promtool.ExitCode == 0, $"promtool check metrics failed ({promtool.ExitCode}):\n{output}");
    }

    [Fact]
    public async Task Metrics_ManyBackends_ScrapesQuicklyAndValid()
    {
        // 1,000 backends in the registry, with traffic counted on each: the scrape merges them all.
        for (var i = 0; i < 1000; i++)
        {
            var state = _runtime.Controller.Registry.GetOrAdd("bulk", $"pool{i % 10}", $"10.0.{i / 250}.{i % 250}:80", null);
            state.Traffic.RecordRequest(200, 1000, 500, 10, 20);
        }
        await ScrapeAsync(); // warm up

        var text = await ScrapeAsync();

        Assert.Empty(PrometheusExposition.Validate(text));
        Assert.Equal(1000, PrometheusExposition.Sum(text, "fastlb_backend_requests_total", ("service", "bulk"), ("code", "2xx")));
    }

    [Fact]
    public async Task CtlStats_AfterTraffic_ReportsRateErrorRateAndQuantilesPerPoolAndBackend()
    {
        foreach (var path in new[] { "/", "/", "/", "/", "/status/500" }) await HttpClientConnection.GetOnceAsync(_web, path);
        var handler = new FastLb.Host.Control.ControlCommandHandler(_runtime);

        // Statistics close a second at a time: wait for the second that holds the requests.
        JsonElement blue = default;
        await FastLb.FunctionalTests.Http.Poll.UntilAsync(() =>
        {
            var reply = JsonDocument.Parse(handler.HandleAsync("stats web --window 30s").GetAwaiter().GetResult()).RootElement;
            blue = reply.GetProperty("pools").GetProperty("blue");
            return blue.GetProperty("requests").GetInt64() == 5;
        }, "ctl stats shows the 5 requests");

        Assert.Equal(0.2, blue.GetProperty("error_rate").GetDouble(), 3);
        Assert.Equal(1, blue.GetProperty("status").GetProperty("5xx").GetInt64());
        Assert.True(blue.GetProperty("p99_ms").GetDouble() > 0);
        Assert.True(blue.GetProperty("p50_ms").GetDouble() <= blue.GetProperty("p99_ms").GetDouble());
        Assert.Equal(5, blue.GetProperty("backends").EnumerateArray().Sum(b => b.GetProperty("requests").GetInt64()));
        var one = JsonDocument.Parse(await handler.HandleAsync("stats web green")).RootElement;
        Assert.False(one.GetProperty("pools").TryGetProperty("blue", out _));
        Assert.Contains("unknown pool 'gren'", ErrorOf(await handler.HandleAsync("stats web gren")));
        Assert.Contains("--window takes a duration", ErrorOf(await handler.HandleAsync("stats web --window 5m")));
        var table = FastLb.Host.Control.ReplyFormatter.Format(await handler.HandleAsync("stats web"));
        Assert.Contains("pool blue", table);
        Assert.Contains("p99 ms", table);
    }

    [Fact]
    public async Task History_AfterTraffic_ServedByGetHistoryPerPoolAndBackend_ThenOnlyNewSeconds()
    {
        foreach (var path in new[] { "/", "/", "/", "/status/500" }) await HttpClientConnection.GetOnceAsync(_web, path);
        var handler = new FastLb.Host.Control.ControlCommandHandler(_runtime);

        // The dashboard's first read: the last 5 minutes of every pool and backend, once the requests' second closed.
        JsonElement body = default;
        await FastLb.FunctionalTests.Http.Poll.UntilAsync(() =>
        {
            var response = HttpClientConnection.GetOnceAsync(_admin, "/history").GetAwaiter().GetResult();
            body = JsonDocument.Parse(response.Body).RootElement;
            return Sum(body.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue"), "requests") == 4;
        }, "/history shows the 4 requests");

        var blue = body.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("blue");
        var seconds = body.GetProperty("seconds").GetInt32();
        Assert.Equal(seconds, blue.GetProperty("requests").GetArrayLength());
        Assert.Equal(1, Sum(blue, "errors"));
        Assert.Equal(4, blue.GetProperty("backends").EnumerateObject().Sum(b => Sum(b.Value, "requests")));
        Assert.Equal(0, Sum(body.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("green"), "requests"));

        // The next read asks only for the seconds after the last one it has: none or a few, never the 5 minutes again.
        var end = body.GetProperty("end_second").GetInt64();
        var next = JsonDocument.Parse(await handler.HandleAsync($"history --since {end}")).RootElement;
        Assert.InRange(next.GetProperty("seconds").GetInt32(), 0, 3);
        Assert.Equal(next.GetProperty("seconds").GetInt32(), next.GetProperty("end_second").GetInt64() - end);
        Assert.Contains("web/blue", FastLb.Host.Control.ReplyFormatter.Format(await handler.HandleAsync("history")));
        Assert.Contains("bad argument", ErrorOf(await handler.HandleAsync("history --since x")));
    }

    private static long Sum(JsonElement series, string name) => series.GetProperty(name).EnumerateArray().Sum(e => e.GetInt64());

    [Fact]
    public async Task Events_SwapAndRollback_ServedByGetEventsAndCtlEvents()
    {
        _runtime.Controller.Swap("web", "green");
        _runtime.Controller.Rollback("web");

        var response = await HttpClientConnection.GetOnceAsync(_admin, "/events");
        var body = JsonDocument.Parse(response.Body).RootElement;
        var kinds = body.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Equal("start", kinds[0]);
        Assert.Contains("swap", kinds);
        Assert.Contains("rollback", kinds);
        Assert.True(kinds.IndexOf("swap") < kinds.IndexOf("rollback"));
        var last = body.GetProperty("last_sequence").GetInt64();

        var handler = new FastLb.Host.Control.ControlCommandHandler(_runtime);
        _runtime.Controller.Swap("web", "green");
        var newer = JsonDocument.Parse(await handler.HandleAsync($"events --since {last}")).RootElement.GetProperty("events");
        Assert.Contains(newer.EnumerateArray(), e => e.GetProperty("kind").GetString() == "swap");
        Assert.All(newer.EnumerateArray(), e => Assert.True(e.GetProperty("seq").GetInt64() > last));
        Assert.Contains("swap web -> green", FastLb.Host.Control.ReplyFormatter.Format(await handler.HandleAsync("events --limit 5")));
        Assert.Contains("bad argument", ErrorOf(await handler.HandleAsync("events --since x")));
    }

    private static string ErrorOf(string reply) => JsonDocument.Parse(reply).RootElement.GetProperty("error").GetString()!;

    private async Task<string> ScrapeAsync()
    {
        var response = await HttpClientConnection.GetOnceAsync(_admin, "/metrics");
        Assert.Equal(200, response.Status);
        Assert.StartsWith("text/plain; version=0.0.4", response.Head["content-type"]);
        return response.BodyText;
    }
}
