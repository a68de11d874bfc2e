using System.Globalization;
using FastLb.Core.Config;
using FastLb.Host.Demo;

namespace FastLb.Host.Cli;

/// <summary>`fastlb demo`: two blue and two green demo backends on loopback and FastLb in front of them.</summary>
internal static class DemoCommand
{
    public static async Task<int> ExecuteAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        CommandHelp.CheckOptions("demo", args, CommandHelp.Demo, "--port", "-p");
        var portText = CommandLine.Option(args, "--port", "-p") ?? "8080";
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new UsageException($"--port must be 0-65535, got '{portText}'");
        }
        var backends = new[] { new DemoBackend("blue-1"), new DemoBackend("blue-2"), new DemoBackend("green-1"), new DemoBackend("green-2") };
        foreach (var b in backends) b.Start();
        try
        {
            var (runtime, config) = CreateRuntime(DemoConfigText(port, backends));
            await using var _ = runtime;
            if (!await runtime.StartAsync(config).ConfigureAwait(false)) return 1;
            var bound = runtime.Proxy.Listeners[0].EndPoint;
            stdout.WriteLine($"""

                FastLb demo is running: web on http://{bound}, blue active, green ready.
                  blue:  {backends[0].EndPoint}  {backends[1].EndPoint}
                  green: {backends[2].EndPoint}  {backends[3].EndPoint}

                Try, in another terminal (same folder):
                  curl -s http://{bound}/                                  # blue-1 / blue-2
                  curl -s -H 'x-fastlb-pool: green' http://{bound}/        # preview green
                  fastlb ctl status
                  fastlb ctl split web blue=90 green=10
                  fastlb ctl swap web green                                # atomic flip; blue drains
                  fastlb ctl rollback web                                  # back to the previous assignment
                (`dotnet run --project src/FastLb.Host -- ctl status` works too.) Ctrl-C stops.
                """);
            return await runtime.RunUntilStoppedAsync().ConfigureAwait(false);
        }
        finally
        {
            foreach (var b in backends) await b.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The demo's runtime: its config has no file, so a reload re-reads the same text (and finds nothing changed).</summary>
    public static (FastLbRuntime Runtime, FastLbConfig Config) CreateRuntime(string yaml)
    {
        var config = ConfigLoader.Parse(yaml, "<demo>", Directory.GetCurrentDirectory());
        var runtime = new FastLbRuntime(() => ConfigLoader.Parse(yaml, "<demo>", Directory.GetCurrentDirectory()), new WorkerModel(config.Workers, config.PinWorkers, config.Io));
        return (runtime, config);
    }

    /// <summary>The embedded default config, with the demo backends' ephemeral ports filled in.</summary>
    public static string DemoConfigText(int port, IReadOnlyList<DemoBackend> b) => $"""
        # The demo's backends run in the same process as its loops: leave the scheduler free to place them.
        pin_workers: false
        admin:
          control_socket: ./fastlb.sock
        defaults:
          connect_timeout: 1s
          idle_timeout: 60s
          drain_timeout: 10s
        listeners:
          - name: web
            bind: 127.0.0.1:{port}
            protocol: http
            routes:
              - match: {"{"} header: {"{"} name: x-fastlb-pool, value: green {"}"} {"}"}
                service: web
                pool: green
              - service: web
        services:
          web:
            balance: round_robin
            active: blue
            pools:
              blue:
                - {b[0].EndPoint}
                - {b[1].EndPoint}
              green:
                - {b[2].EndPoint}
                - {b[3].EndPoint}
        """;
}
