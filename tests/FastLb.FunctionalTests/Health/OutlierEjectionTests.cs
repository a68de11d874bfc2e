using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Health;

/// <summary>Passive health through an in-process FastLb: failing backends are ejected after N failures, return after their time, and stop costing clients.</summary>
public sealed class OutlierEjectionTests
{
    private static string Yaml(string outlier, string connectTimeout, params IPEndPoint[] backends) =>
        $"defaults:\n  connect_timeout: {connectTimeout}\n  drain_timeout: 2s\n"
        + "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
        + $"services:\n  web:\n    outlier: {outlier}\n    pools:\n      main:\n"
        + string.Concat(backends.Select(b => $"        - {b}\n"));

    private static JsonElement Backend(JsonElement status, string address) =>
        status.GetProperty("services").GetProperty("web").GetProperty("pools").GetProperty("main").GetProperty("backends")
            .EnumerateArray().First(b => b.GetProperty("address").GetString() == address);

    [Fact]
    public async Task RefusingBackend_EjectedWithinNFailures_NoClientFails_ReturnsAfterItsTime()
    {
        await using var good = RawHttpBackend.Start("good");
        var refusing = LoopbackBackend.ClosedPort();
        await using var lb = await HttpLb.StartAsync(Yaml("{ consecutive_failures: 3, base_ejection: 2s, max_ejected_percent: 50 }", "1s", good.EndPoint, refusing));

        // Status is read after each request until the ejection shows, so it is read while the ejection is in force
        // however slowly a loaded machine runs the 30 requests.
        await using var client = await lb.ConnectAsync();
        JsonElement? ejected = null;
        for (var i = 0; i < 30; i++)
        {
            var response = await client.GetAsync("/");
            Assert.Equal(200, response.Status); // a refused connect moves on to the next backend
            if (ejected is null && Backend(await lb.CtlOkAsync("status"), refusing.ToString()) is var b && b.GetProperty("ejections").GetInt64() > 0) ejected = b;
        }

        Assert.True(ejected is not null, "the refusing backend was not ejected within 30 requests");
        var status = ejected.Value;
        Assert.Equal("ejected", status.GetProperty("health").GetString());
        Assert.Equal(1, status.GetProperty("ejections").GetInt64());
        Assert.InRange(status.GetProperty("failures").GetInt64(), 3, 4); // the third failure ejects; a pick racing the next tick may add one

        await HttpLb.WaitUntilAsync(async () =>
            Backend(await lb.CtlOkAsync("status"), refusing.ToString()).GetProperty("health").GetString() == "healthy", "the ejection ends", TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task MaxEjectedPercent_HoldsWhenEveryBackendFails()
    {
        var ports = Enumerable.Range(0, 4).Select(_ => LoopbackBackend.ClosedPort()).ToArray();
        await using var lb = await HttpLb.StartAsync(Yaml("{ consecutive_failures: 1, base_ejection: 1m, max_ejected_percent: 50 }", "1s", ports));

        await using var client = await lb.ConnectAsync();
        for (var i = 0; i < 12; i++)
        {
            var response = await client.GetAsync("/");
            Assert.Equal(502, response.Status);
        }

        var status = await lb.CtlOkAsync("status");
        Assert.Equal(2, ports.Count(p => Backend(status, p.ToString()).GetProperty("health").GetString() == "ejected"));
    }

    [Fact]
    public async Task BlackHoledBackend_StopsCostingConnectTimeoutAfterNRequests()
    {
        await using var good = RawHttpBackend.Start("good");
        // A listener whose accept queue is full: the kernel drops further SYNs, so a connect hangs (a black hole).
        using var hole = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        hole.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        hole.Listen(0);
        var fillers = new List<Socket>();
        for (var i = 0; i < 4; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _ = s.ConnectAsync(hole.LocalEndPoint!);
            fillers.Add(s);
        }
        await Task.Delay(200);
        try
        {
            // connect_timeout 1 s: shorter, a loaded machine's stalled loop could time out the connect to the good backend too.
            await using var lb = await HttpLb.StartAsync(Yaml("{ consecutive_failures: 2, base_ejection: 1m }", "1s", good.EndPoint, (IPEndPoint)hole.LocalEndPoint!));

            var latencies = new List<TimeSpan>();
            await using var client = await lb.ConnectAsync();
            for (var i = 0; i < 24; i++)
            {
                var clock = Stopwatch.StartNew();
                var response = await client.GetAsync("/");
                latencies.Add(clock.Elapsed);
                Assert.Equal(200, response.Status);
                if (i < 4) await Task.Delay(150); // let the tick publish the ejection
            }

            var text = string.Join(" ", latencies.Select(l => $"{l.TotalMilliseconds:0}"));
            // Exactly consecutive_failures connects went to the hole, each costing the connect timeout; then none.
            var status = Backend(await lb.CtlOkAsync("status"), hole.LocalEndPoint!.ToString()!);
            Assert.Equal("ejected", status.GetProperty("health").GetString());
            Assert.Equal(2, status.GetProperty("failures").GetInt64());
            Assert.True(latencies.Any(l => l >= TimeSpan.FromMilliseconds(990)), $"no request waited for the connect timeout: {text} ms");
            // After the ejection no request waits for the connect timeout: the typical one takes a fraction of it (a
            // loaded machine may still stall one now and then).
            var after = latencies.Skip(4).OrderBy(l => l).ToList();
            Assert.True(after[after.Count / 2] < TimeSpan.FromMilliseconds(300) && after.Count(l => l >= TimeSpan.FromMilliseconds(990)) <= 1,
                $"requests kept waiting after the ejection: {text} ms");
        }
        finally
        {
            foreach (var s in fillers) s.Dispose();
        }
    }
}
