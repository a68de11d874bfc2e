using FastLb.Core.Diagnostics;

namespace FastLb.Host;

/// <summary>
/// The data-plane threading model: <c>workers</c> event loops, each an epoll thread of the .NET socket engine
/// that runs socket continuations inline. With the pipes' inline schedulers a request is parsed, routed and
/// forwarded on the event loop that received it, with no thread-pool hop (measured: about 35% less CPU per
/// request than thread-pool dispatch; perf-results/2026-11-26-l7-tuning.md).
/// </summary>
/// <remarks>
/// The socket engine reads both settings once, when the first socket is created, so this must run before any
/// socket exists and cannot change on reload. An operator's own environment variables win.
/// </remarks>
internal static class WorkerModel
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    private const string EngineCount = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";
    private static int _applied;

    /// <summary>The worker count in force, once applied.</summary>
    public static int Workers { get; private set; }

    public static void Apply(int workers)
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0) return;
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");
        if (Environment.GetEnvironmentVariable(EngineCount) is { } fixedCount && int.TryParse(fixedCount, out var n))
        {
            workers = n;
        }
        else
        {
            Environment.SetEnvironmentVariable(EngineCount, workers.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        Workers = workers;
    }

    /// <summary>Logs once at start whether a reload asked for a worker count the process cannot change.</summary>
    public static void WarnIfChanged(int configured)
    {
        if (Workers != 0 && configured != Workers)
        {
            Log.Warn($"workers: {configured} in the file, {Workers} running; the worker count changes only on restart");
        }
    }
}
