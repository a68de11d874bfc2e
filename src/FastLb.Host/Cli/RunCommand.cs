using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Host.Upgrade;

namespace FastLb.Host.Cli;

/// <summary>`fastlb run -c FILE`: runs until SIGTERM/SIGINT; SIGHUP reloads the file; SIGUSR2 upgrades the process.</summary>
internal static class RunCommand
{
    public static async Task<int> ExecuteAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        CommandHelp.CheckOptions("run", args, CommandHelp.Run, "--config", "-c");
        var path = CommandLine.Option(args, "--config", "-c") ?? throw new UsageException("run needs -c FILE", CommandHelp.Run);
        // Started by `fastlb upgrade`: the running process hands over its sockets and state on this channel.
        using var channel = UpgradeChannel.FromEnvironment();
        UpgradeTakeover? takeover = null;
        if (channel is not null)
        {
            try
            {
                takeover = UpgradeTakeover.Receive(channel);
            }
            catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException or System.Text.Json.JsonException or KeyNotFoundException)
            {
                stderr.WriteLine($"fastlb: upgrade hand-off failed: {e.Message}");
                return 1;
            }
        }
        using (takeover)
        {
            FastLbConfig config;
            try
            {
                config = ConfigLoader.LoadFile(path);
            }
            catch (ConfigException e)
            {
                foreach (var error in e.Errors) stderr.WriteLine(error);
                takeover?.Fail($"config {path}: " + string.Join("; ", e.Errors.Select(x => x.ToString())));
                return 1;
            }
            FastLbRuntime created;
            try
            {
                created = new FastLbRuntime(() => ConfigLoader.LoadFile(path), new WorkerModel(config.Workers, config.PinWorkers, config.Io));
            }
            catch (FastLb.Proxy.Transport.IoUnavailableException e)
            {
                stderr.WriteLine($"fastlb: {config.SourcePath}: {e.Message}");
                takeover?.Fail(e.Message);
                return 1;
            }
            await using var runtime = created;
            if (!await runtime.StartAsync(config, takeover: takeover).ConfigureAwait(false)) return 1;
            takeover?.Dispose(); // sockets not taken were closed by Ready; the channel is done
            return await runtime.RunUntilStoppedAsync().ConfigureAwait(false);
        }
    }
}
