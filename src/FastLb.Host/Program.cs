using FastLb.Core.Diagnostics;
using FastLb.Host.Cli;

try
{
    return await CommandLine.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
}
finally
{
    Log.Flush(TimeSpan.FromSeconds(2)); // lines still queued go out before the process exits
}
