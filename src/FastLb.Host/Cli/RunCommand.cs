using FastLb.Core.Config;
using FastLb.Core.Diagnostics;

namespace FastLb.Host.Cli;

/// <summary>`fastlb run -c FILE`: runs until SIGTERM/SIGINT; SIGHUP reloads the file.</summary>
internal static class RunCommand
{
    public static async Task<int> ExecuteAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var path = CommandLine.Option(args, "--config", "-c") ?? throw new UsageException("run needs -c FILE");
        FastLbConfig config;
        try
        {
            config = ConfigLoader.LoadFile(path);
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors) stderr.WriteLine(error);
            return 1;
        }
        await using var runtime = new FastLbRuntime(() => ConfigLoader.LoadFile(path), new WorkerModel(config.Workers, config.PinWorkers));
        if (!await runtime.StartAsync(config).ConfigureAwait(false)) return 1;
        return await runtime.RunUntilStoppedAsync().ConfigureAwait(false);
    }
}
