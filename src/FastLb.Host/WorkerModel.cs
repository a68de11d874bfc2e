using FastLb.Core.Config;
using FastLb.Proxy.Transport;

namespace FastLb.Host;

/// <summary>
/// The data-plane threading model: <c>workers</c> event loops (<see cref="EventLoops"/>), each a thread blocked in
/// epoll_wait that runs socket continuations inline. With the pipes' inline schedulers a request is parsed, routed
/// and forwarded on the loop that received it, and its upstream connection lives on the same loop, with no
/// thread-pool hop (perf-results/archive/2026-11-26-l7-tuning-dotnet-sockets.md, 2026-11-26-epoll-transport.md).
/// </summary>
/// <remarks>The loops are created once, with the server, so the count is fixed at start and cannot change on reload.</remarks>
/// <param name="workers">Event loops to run.</param>
/// <param name="pin">Whether each loop is pinned to a CPU.</param>
/// <param name="io">The loops' transport (<c>io</c>); null = <see cref="IoModeNames.Default"/>.</param>
internal sealed class WorkerModel(int workers, bool pin, IoMode? io = null)
{
    /// <summary>One loop per CPU, unpinned: what runs when no config chose.</summary>
    public static WorkerModel Default => new(EventLoops.DefaultCount, pin: false);

    public int Workers { get; } = workers;

    public bool Pinned { get; } = pin;

    public IoMode Io { get; } = io ?? IoModeNames.Default;

    /// <summary>Starts the loops; the server they are given to owns and stops them.</summary>
    /// <exception cref="IoUnavailableException"><c>io: io_uring</c> where it cannot run.</exception>
    public EventLoops CreateLoops() => new(Workers, Pinned, Io);

    /// <summary>What a reloaded file asks of the worker settings that only a restart changes (reload warnings).</summary>
    public List<string> RestartOnlyChanges(int configured, bool pin, IoMode io)
    {
        var changes = new List<string>();
        if (io != Io)
        {
            changes.Add($"io: {IoModeNames.Name(io)} in the file, {IoModeNames.Name(Io)} running; it changes only on restart");
        }
        if (configured != Workers)
        {
            changes.Add($"workers: {configured} in the file, {Workers} running; the worker count changes only on restart");
        }
        if (pin != Pinned)
        {
            changes.Add($"pin_workers: {(pin ? "true" : "false")} in the file, {(Pinned ? "true" : "false")} running; it changes only on restart");
        }
        return changes;
    }
}
