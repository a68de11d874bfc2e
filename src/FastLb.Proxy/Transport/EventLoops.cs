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
    private static EpollLoop[]? _loops;
    private static uint _next;

    /// <summary>Sets the loop count; effective only before the first socket is created.</summary>
    public static void Configure(int workers)
    {
        if (workers < 1) throw new ArgumentOutOfRangeException(nameof(workers));
        Volatile.Write(ref _configured, workers);
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
            for (var i = 0; i < loops.Length; i++) loops[i] = new EpollLoop(i);
            Volatile.Write(ref _loops, loops);
            return loops;
        }
    }
}
