using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Control;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>access_log: one line per request (HTTP) or connection (TCP) that matches the traffic sent, and a reopen for logrotate.</summary>
public class AccessLogTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly TempDir _dir = new();
    private readonly DemoBackends _backends = new();

    public Task InitializeAsync()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private string HttpConfig(string accessLog) => _backends.TcpConfig(_dir.Path, drainTimeout: "5s")
        .Replace("    protocol: tcp\n    service: web\n",
            $"    protocol: http\n    access_log: {accessLog}\n    routes:\n      - match: {{ path_prefix: /status/ }}\n        service: web\n      - match: {{ path: / }}\n        service: web\n");

    [Fact]
    public async Task AccessLog_Json_OneLinePerRequestWithStatusPoolAndCause()
    {
        var file = _dir.File("access.log");
        var config = ConfigLoader.Parse(HttpConfig($"{{ path: {file}, format: json }}"), "access-log-test.yaml", _dir.Path);
        await using var runtime = new FastLbRuntime(() => config);
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));
        var web = runtime.Proxy.Listeners[0].EndPoint;

        foreach (var path in new[] { "/", "/?token=secret", "/status/404", "/no-route" }) await HttpClientConnection.GetOnceAsync(web, path);
        runtime.Controller.Swap("web", "green");
        await HttpClientConnection.GetOnceAsync(web, "/status/503");

        // Each event loop buffers its own lines, so lines of requests served by different loops may come out of order.
        var entries = (await LinesAsync(file, 5)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        string Summary(JsonElement e) => $"{e.GetProperty("path").GetString()} {e.GetProperty("status").GetInt32()} {e.GetProperty("pool").GetString() ?? "-"} {e.GetProperty("termination").GetString()}";
        Assert.Equal(
            ["/ 200 blue ok", "/ 200 blue ok", "/no-route 404 - no_route", "/status/404 404 blue ok", "/status/503 503 green ok"],
            entries.Select(Summary).Order(StringComparer.Ordinal));
        var first = entries.First(e => e.GetProperty("route").ValueKind == JsonValueKind.Number && e.GetProperty("route").GetInt32() == 2);
        Assert.Equal("GET", first.GetProperty("method").GetString());
        Assert.Equal("127.0.0.1", first.GetProperty("client").GetString());
        Assert.True(first.GetProperty("client_port").GetInt32() > 0);
        Assert.Equal("web", first.GetProperty("listener").GetString());
        Assert.Equal("web", first.GetProperty("service").GetString());
        Assert.StartsWith("127.0.0.1:", first.GetProperty("backend").GetString());
        Assert.True(first.GetProperty("bytes_in").GetInt64() > 0);
        Assert.True(first.GetProperty("bytes_out").GetInt64() > 0);
        Assert.True(first.GetProperty("upstream_head_ms").GetDouble() >= 0);
        var routedAfterSwap = entries.Single(e => e.GetProperty("pool").GetString() == "green");
        Assert.True(routedAfterSwap.GetProperty("generation").GetInt64() > first.GetProperty("generation").GetInt64());
        Assert.Equal(1, routedAfterSwap.GetProperty("route").GetInt32()); // path_prefix /status/ is the listener's first route
        var unrouted = entries.Single(e => e.GetProperty("termination").GetString() == "no_route");
        Assert.Equal(JsonValueKind.Null, unrouted.GetProperty("upstream_head_ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, unrouted.GetProperty("route").ValueKind);
        Assert.Equal(5, runtime.Proxy.AccessLogs.Lines);
        Assert.Equal(0, runtime.Proxy.AccessLogs.Dropped);
    }

    [Fact]
    public async Task AccessLog_TextOnTcpListener_OneLinePerConnection()
    {
        var file = _dir.File("tcp.log");
        var yaml = _backends.TcpConfig(_dir.Path).Replace("    service: web\n", $"    service: web\n    access_log: {{ path: {file} }}\n");
        var config = ConfigLoader.Parse(yaml, "access-log-test.yaml", _dir.Path);
        await using var runtime = new FastLbRuntime(() => config);
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));
        var web = runtime.Proxy.Listeners[0].EndPoint;

        await HttpClientConnection.GetOnceAsync(web, "/");
        await HttpClientConnection.GetOnceAsync(web, "/");

        var lines = await LinesAsync(file, 2);
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            // TIME CLIENT LISTENER ROUTE SERVICE POOL BACKEND GENERATION "-" STATUS IN OUT DURATION HEAD RETRIES CAUSE
            Assert.StartsWith("127.0.0.1:", fields[1]);
            Assert.Equal(["web", "-", "web", "blue"], fields[2..6]);
            Assert.Equal("\"-\"", fields[8]);
            Assert.Equal("-", fields[9]);
            Assert.True(long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) > 0); // bytes to the client
            Assert.Equal("ok", fields[^1]);
        }
    }

    [Fact]
    public async Task AccessLog_ReopenAfterMove_NewLinesGoToTheNewFile()
    {
        var file = _dir.File("access.log");
        var configPath = _dir.File("fastlb.yaml");
        await File.WriteAllTextAsync(configPath, HttpConfig($"{{ path: {file} }}"));
        await using var p = await FastLbProcess.RunAsync(_dir.Path, configPath, Timeout);
        var web = await FastLbProcess.ListenerAsync(_dir.File("fastlb.sock"), Timeout);

        await HttpClientConnection.GetOnceAsync(web, "/");
        await LinesAsync(file, 1);
        // logrotate: move the file, then signal; lines written before the signal may still land in the moved file.
        File.Move(file, file + ".1");
        p.Signal(10); // SIGUSR1
        await p.WaitForLogAsync("SIGUSR1: reopening access logs", Timeout);
        await Poll.UntilAsync(() => File.Exists(file), "the access log was reopened under its name");
        await HttpClientConnection.GetOnceAsync(web, "/");
        await HttpClientConnection.GetOnceAsync(web, "/");

        Assert.Equal(2, (await LinesAsync(file, 2)).Count);
        Assert.Single(File.ReadAllLines(file + ".1"));
        // ctl reopen-logs does the same.
        File.Move(file, file + ".2");
        var reply = JsonDocument.Parse(await ControlClient.SendAsync(_dir.File("fastlb.sock"), "reopen-logs", Timeout)).RootElement;
        Assert.True(reply.GetProperty("ok").GetBoolean());
        await Poll.UntilAsync(() => File.Exists(file), "ctl reopen-logs reopened the access log");
        await HttpClientConnection.GetOnceAsync(web, "/");
        Assert.Single(await LinesAsync(file, 1));
    }

    [Fact]
    public async Task AccessLog_KeepAliveAfterRetriedRequest_UnroutedRequestLogsNoRetries()
    {
        var file = _dir.File("access.log");
        // blue's first backend refuses connections: a request picked onto it moves on to the second (one retry).
        var yaml = HttpConfig($"{{ path: {file}, format: json }}").Replace($"- {_backends.All[0].EndPoint}", $"- 127.0.0.1:{DeadPort()}");
        var config = ConfigLoader.Parse(yaml, "access-log-test.yaml", _dir.Path);
        await using var runtime = new FastLbRuntime(() => config);
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));
        await using var client = await HttpClientConnection.ConnectAsync(runtime.Proxy.Listeners[0].EndPoint).WaitAsync(Timeout);

        // Round robin over two backends: one of two requests picks the refusing one first.
        Assert.Equal(200, (await client.GetAsync("/").WaitAsync(Timeout)).Status);
        Assert.Equal(200, (await client.GetAsync("/").WaitAsync(Timeout)).Status);
        Assert.Equal(404, (await client.GetAsync("/no-route").WaitAsync(Timeout)).Status);

        var entries = (await LinesAsync(file, 3)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(entries, e => e.GetProperty("status").GetInt32() == 200 && e.GetProperty("retries").GetInt32() == 1);
        var unrouted = entries.Single(e => e.GetProperty("status").GetInt32() == 404);
        Assert.Equal(0, unrouted.GetProperty("retries").GetInt32()); // not the retries of the request before it
    }

    [Fact]
    public async Task ErrorAnswers_LoggedOnTheProcessLogWithBackendAndReason()
    {
        var configPath = _dir.File("fastlb.yaml");
        // green's backends refuse connections: ports nothing listens on.
        var dead = new[] { DeadPort(), DeadPort() };
        var yaml = HttpConfig("{ path: stdout }")
            .Replace($"- {_backends.All[2].EndPoint}", $"- 127.0.0.1:{dead[0]}")
            .Replace($"- {_backends.All[3].EndPoint}", $"- 127.0.0.1:{dead[1]}")
            .Replace("active: blue", "active: green");
        await File.WriteAllTextAsync(configPath, yaml);
        await using var p = await FastLbProcess.RunAsync(_dir.Path, configPath, Timeout);
        var web = await FastLbProcess.ListenerAsync(_dir.File("fastlb.sock"), Timeout);

        var response = await HttpClientConnection.GetOnceAsync(web, "/");

        Assert.Equal(502, response.Status);
        await p.WaitForLogAsync("listener 'web': 502 for GET /: connect_failed, service 'web' pool 'green' backend 127.0.0.1:", Timeout);
        await p.WaitForLogAsync("\"GET /\" 502 ", Timeout); // the access log line, on stdout
    }

    private static int DeadPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task<List<string>> LinesAsync(string file, int count)
    {
        List<string> lines = [];
        await Poll.UntilAsync(() =>
        {
            lines = File.Exists(file) ? [.. File.ReadAllLines(file).Where(l => l.Length > 0)] : [];
            return lines.Count >= count;
        }, $"{count} access log line(s) in {file}");
        Assert.Equal(count, lines.Count);
        return lines;
    }
}
