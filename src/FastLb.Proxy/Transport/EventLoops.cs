namespace FastLb.Proxy.Transport;

/// <summary>The process's event loops (<c>workers</c> of them), started on first use.</summary>
/// <remarks>
/// Accepted connections are spread round-robin. A backend connection is opened on its client connection's loop,
/// so both ends of an exchange run on one thread without a hand-off.
/// </remarks>
internal static class EventLoops
{
    private static readonly Lock StartLock = new();
    private static int _configured = Environment.ProcessorCount;
    private static bool _pin;
    private static EpollLoop[]? _loops;
    private static uint _next;

    /// <summary>Sets the loop count and whether loops are pinned; effective only before the first socket is created.</summary>
    /// <remarks>
    /// Pinned, loop i runs only on the i-th CPU the process may use (wrapping when there are more loops than CPUs). A
    /// loop that stays on its CPU keeps its sockets' cache lines and wake-ups local: on the 2-core bench machine this
    /// cut kernel time per request by about 15% at 2 workers (perf-results/2026-11-26-epoll-transport.md).
    /// </remarks>
    public static void Configure(int workers, bool pin = false)
    {
        if (workers < 1) throw new ArgumentOutOfRangeException(nameof(workers));
        Volatile.Write(ref _configured, workers);
        Volatile.Write(ref _pin, pin);
    }

    /// <summary>How many loops run (or will run).</summary>
    public static int Count => Volatile.Read(ref _loops)?.Length ?? Volatile.Read(ref _configured);

    /// <summary>The loops, started on first call.</summary>
    public static EpollLoop[] All => Volatile.Read(ref _loops) ?? Start();

    /// <summary>The next loop in round-robin order, for a newly accepted connection.</summary>
    public static EpollLoop Next()
    {
        var loops = All;
        return loops.Length == 1 ? loops[0] : loops[Interlocked.Increment(ref _next) % (uint)loops.Length];
    }


    private static EpollLoop[] Start()
    {
        lock (StartLock)
        {
            if (_loops is not null) return _loops;
            var loops = new EpollLoop[_configured];
            var cpus = _pin ? CpuAffinity.AllowedCpus() : [];
            for (var i = 0; i < loops.Length; i++) loops[i] = new EpollLoop(i, cpus.Length > 1 ? cpus[i % cpus.Length] : -1);
            Volatile.Write(ref _loops, loops);
            return loops;
        }
    }
}
