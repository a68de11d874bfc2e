using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport;

namespace FastLb.Host;

/// <summary>
/// The data-plane threading model: <c>workers</c> event loops (<see cref="EventLoops"/>), each a thread blocked in
/// epoll_wait that runs socket continuations inline. With the pipes' inline schedulers a request is parsed, routed
/// and forwarded on the loop that received it, and its upstream connection lives on the same loop, with no
/// thread-pool hop (perf-results/2026-11-26-l7-tuning.md, 2026-11-26-epoll-transport.md).
/// </summary>
/// <remarks>The loops start with the first listener, so the count is fixed at start and cannot change on reload.</remarks>
internal static class WorkerModel
{
    private static int _applied;

    /// <summary>The worker count in force, once applied.</summary>
    public static int Workers { get; private set; }

    /// <summary>Whether the loops are pinned to CPUs, once applied.</summary>
    public static bool Pinned { get; private set; }

    public static void Apply(int workers, bool pin)
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0) return;
        EventLoops.Configure(workers, pin);
        Workers = workers;
        Pinned = pin;
    }

    /// <summary>Logs once at start whether a reload asked for a worker count the process cannot change.</summary>
    public static void WarnIfChanged(int configured, bool pin)
    {
        if (Workers != 0 && configured != Workers)
        {
            Log.Warn($"workers: {configured} in the file, {Workers} running; the worker count changes only on restart");
        }
        if (Workers != 0 && pin != Pinned)
        {
            Log.Warn($"pin_workers: {(pin ? "true" : "false")} in the file, {(Pinned ? "true" : "false")} running; it changes only on restart");
        }
    }
}
