using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using FastLb.Core.Config;
using FastLb.Core.Traffic;
using FastLb.Host;
using FastLb.Host.Admin;
using FastLb.Host.Control;
using FastLb.Proxy;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Common;

/// <summary>
/// An in-process FastLb started from YAML text: its first listener on 127.0.0.1:0, at least two event loops
/// (<see cref="TestLoops.Count"/>), a control socket in a temp dir, and the file it reloads from.
/// </summary>
internal sealed partial class HttpLb : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TempDir _dir;
    private readonly FastLbRuntime _runtime;

    private HttpLb(TempDir dir, FastLbRuntime runtime)
    {
        _dir = dir;
        _runtime = runtime;
        EndPoint = new IPEndPoint(IPAddress.Loopback, runtime.Proxy.Listeners[0].EndPoint.Port);
    }

    public IPEndPoint EndPoint { get; }
    public string ControlSocket => _dir.File("fastlb.sock");

    /// <summary>The file FastLb reloads from.</summary>
    public string ConfigPath => _dir.File("fastlb.yaml");
    public FastLbRuntime Runtime => _runtime;
    public TrafficController Controller => _runtime.Controller;
    public ProxyServer Server => _runtime.Proxy;
    public HttpProxy Http => _runtime.Http;

    /// <summary>
    /// Starts FastLb with <paramref name="yaml"/> (listeners, services, defaults); the control socket is set here,
    /// in an <c>admin</c> section of the YAML's own or a new one.
    /// </summary>
    public static async Task<HttpLb> StartAsync(string yaml)
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        var dir = new TempDir();
        var path = dir.File("fastlb.yaml");
        await File.WriteAllTextAsync(path, WithControlSocket(yaml, dir.File("fastlb.sock")));
        var config = ConfigLoader.LoadFile(path);
        var runtime = new FastLbRuntime(() => ConfigLoader.LoadFile(path), new WorkerModel(TestLoops.Count, pin: false, config.Io));
        try
        {
            Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout), "FastLb did not start");
        }
        catch
        {
            await runtime.DisposeAsync();
            dir.Dispose();
            throw;
        }
        return new HttpLb(dir, runtime);
    }

    /// <summary>Replaces the file with <paramref name="yaml"/> (the control socket set as at start); a reload reads it.</summary>
    public Task RewriteConfigAsync(string yaml) => File.WriteAllTextAsync(ConfigPath, WithControlSocket(yaml, ControlSocket));

    private static string WithControlSocket(string yaml, string socket)
    {
        var line = $"  control_socket: {socket}\n";
        yaml = ControlSocketLine().Replace(yaml, "");
        return AdminSection().IsMatch(yaml) ? AdminSection().Replace(yaml, $"admin:\n{line}", 1) : $"admin:\n{line}{yaml}";
    }

    [GeneratedRegex(@"^admin:\n", RegexOptions.Multiline)]
    private static partial Regex AdminSection();

    [GeneratedRegex(@"^  control_socket: .*\n", RegexOptions.Multiline)]
    private static partial Regex ControlSocketLine();

    /// <summary>What /metrics would answer now.</summary>
    public string Metrics() => new MetricsExposition(_runtime).Render();

    public Task<HttpClientConnection> ConnectAsync() => HttpClientConnection.ConnectAsync(EndPoint).WaitAsync(Timeout);

    /// <summary>One request, sent as-is on a fresh connection; returns the final response.</summary>
    public async Task<HttpResponse> SendOnceAsync(string request)
    {
        await using var client = await ConnectAsync();
        return await client.RequestAsync(request);
    }

    /// <summary>Sends one control command and returns the parsed JSON reply.</summary>
    public async Task<JsonElement> CtlAsync(string command)
    {
        var reply = await ControlClient.SendAsync(ControlSocket, command, Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    /// <summary>Sends a command that must succeed.</summary>
    public async Task<JsonElement> CtlOkAsync(string command)
    {
        var reply = await CtlAsync(command);
        Assert.True(reply.GetProperty("ok").GetBoolean(), $"'{command}' failed: {reply}");
        return reply;
    }

    /// <summary>The <c>rollout</c> of <c>rollout-status SERVICE</c> (JSON null when none ever ran).</summary>
    public async Task<JsonElement> RolloutAsync(string service = "web") => (await CtlOkAsync($"rollout-status {service}")).GetProperty("rollout");

    /// <summary>Polls the rollout of <paramref name="service"/> until its state is <paramref name="state"/>; returns it then.</summary>
    public async Task<JsonElement> WaitForRolloutAsync(string state, string service = "web", TimeSpan? timeout = null)
    {
        JsonElement last = default;
        await WaitUntilAsync(async () =>
        {
            last = await RolloutAsync(service);
            return last.ValueKind == JsonValueKind.Object && last.GetProperty("state").GetString() == state;
        }, $"the rollout of {service} is {state}", timeout ?? TimeSpan.FromSeconds(20));
        return last;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test with <paramref name="what"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (!await condition().WaitAsync(Timeout))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _runtime.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
        finally
        {
            _dir.Dispose();
        }
    }
}
