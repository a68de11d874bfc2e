using FastLb.Core.Config;

namespace FastLb.Host.Cli;

/// <summary>`fastlb check -c FILE`: validates and prints a summary, or every error as file:line:col: message; warnings (file:line:col: warning: message) go to stderr and keep exit 0.</summary>
internal static class CheckCommand
{
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        CommandHelp.CheckOptions("check", args, CommandHelp.Check, "--config", "-c");
        var path = CommandLine.Option(args, "--config", "-c") ?? throw new UsageException("check needs -c FILE", CommandHelp.Check);
        try
        {
            var config = ConfigLoader.LoadFile(path);
            foreach (var warning in config.Warnings) stderr.WriteLine(warning);
            stdout.WriteLine($"{path}: ok{(config.Warnings.Count > 0 ? $" with {config.Warnings.Count} warning(s)" : "")}");
            stdout.Write(ConfigSummary.Describe(config));
            return 0;
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors) stderr.WriteLine(error);
            stderr.WriteLine($"{e.Errors.Count} error(s)");
            return 1;
        }
    }
}
