using System.Net;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.FunctionalTests.Host;
using FastLb.Host;
using FastLb.Host.Control;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>An in-process FastLb started from YAML text, its first listener on 127.0.0.1:0, a control socket in a temp dir.</summary>
internal sealed class HttpLb : IAsyncDisposable
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

    /// <summary>Starts FastLb with <paramref name="yaml"/> (listeners, services, defaults); the admin section is added here.</summary>
    public static async Task<HttpLb> StartAsync(string yaml)
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        var dir = new TempDir();
        var path = dir.File("fastlb.yaml");
        await File.WriteAllTextAsync(path, $"admin:\n  control_socket: {dir.File("fastlb.sock")}\n{yaml}");
        var runtime = new FastLbRuntime(() => ConfigLoader.LoadFile(path));
        try
        {
            Assert.True(await runtime.StartAsync(ConfigLoader.LoadFile(path), handleSignals: false).WaitAsync(Timeout), "FastLb did not start");
        }
        catch
        {
            await runtime.DisposeAsync();
            dir.Dispose();
            throw;
        }
        return new HttpLb(dir, runtime);
    }

    /// <summary>Replaces the file with <paramref name="yaml"/> (the admin section added as at start); a reload reads it.</summary>
    public Task RewriteConfigAsync(string yaml) => File.WriteAllTextAsync(ConfigPath, $"admin:\n  control_socket: {ControlSocket}\n{yaml}");

    public Task<HttpClientConnection> ConnectAsync() => HttpClientConnection.ConnectAsync(EndPoint).WaitAsync(Timeout);

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
