using FastLb.Core.Config;

namespace FastLb.Proxy.Transport;

/// <summary>One server's event loops (<c>workers</c> of them): started when created, stopped and closed by <see cref="Dispose"/>.</summary>
/// <remarks>
/// Owned by the server that creates it, as Kestrel's socket transport owns its I/O queues: nothing else starts or stops
/// loops, and a server torn down leaves no thread or epoll fd behind. On io_uring every loop accepts and serves what it
/// accepted (kept even by ProxyListener.EvenLoop); on epoll one loop accepts and spreads connections round-robin
/// (<see cref="Next"/>). A backend connection is opened on its client connection's loop, so both ends of an exchange
/// run on one thread without a hand-off.
/// </remarks>
internal sealed class EventLoops : IDisposable
{
    private readonly EpollLoop[] _loops;
    private uint _next;
    private int _disposed;

    /// <summary>SQ entries of each loop's ring: a loop's arms and cancels of one iteration fit without an early submit.</summary>
    public const uint DefaultRingEntries = 1024;

    /// <param name="count">How many loops (threads) to run; at least 1.</param>
    /// <param name="pin">
    /// Pin loop i to the i-th CPU the process may use (wrapping when there are more loops than CPUs). A loop that
    /// stays on its CPU keeps its sockets' cache lines and wake-ups local: on the 2-core bench machine this cut kernel
    /// time per request by about 15% at 2 workers (perf-results/2026-11-26-epoll-transport.md).
    /// </param>
    /// <param name="io">The transport: null = <see cref="IoModeNames.Default"/> (<c>auto</c> unless FASTLB_IO says otherwise).</param>
    /// <param name="probe">Why io_uring cannot run here, or null when it can (tests simulate a host without it); default: the real probe.</param>
    /// <param name="ringEntries">SQ entries per ring (tests use tiny rings to overflow them).</param>
    /// <param name="receiveBuffers">Provided receive buffers per ring, a power of two (tests use a few to exhaust them).</param>
    /// <param name="receiveBufferSize">Bytes per provided receive buffer.</param>
    /// <param name="fileTableSize">Registered file slots per ring (0: none; tests use a few so sockets overflow it).</param>
    /// <exception cref="IoUnavailableException"><c>io: io_uring</c> on a host that cannot run it.</exception>
    public EventLoops(int count, bool pin = false, IoMode? io = null, Func<string?>? probe = null, uint ringEntries = DefaultRingEntries,
        int receiveBuffers = EpollLoop.DefaultReceiveBuffers, int receiveBufferSize = EpollLoop.DefaultReceiveBufferSize,
        int fileTableSize = EpollLoop.DefaultFileTableSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ringEntries, 1u);
        Io = IoChoice.Resolve(io ?? IoModeNames.Default, probe);
        var cpus = pin ? CpuAffinity.AllowedCpus() : [];
        _loops = new EpollLoop[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                _loops[i] = new EpollLoop(this, i, cpus.Length > 1 ? cpus[i % cpus.Length] : -1, Io.UsesUring ? ringEntries : 0,
                    receiveBuffers, receiveBufferSize, fileTableSize);
            }
        }
        catch (IOException e) when (Io.UsesUring)
        {
            Dispose();
            throw new IoUnavailableException($"io: io_uring: event loop setup failed: {e.Message}");
        }
        catch
        {
            Dispose();
            throw;
        }
        Pinned = pin && cpus.Length > 1;
    }

    /// <summary>The transport the loops run on, and why.</summary>
    public IoChoice Io { get; }

    /// <summary>The loop count a server uses when its host does not choose one: one per CPU.</summary>
    public static int DefaultCount => Environment.ProcessorCount;

    /// <summary>How many loops run.</summary>
    public int Count => _loops.Length;

    /// <summary>Whether the loops are pinned to CPUs.</summary>
    public bool Pinned { get; }

    /// <summary>The loops, by <see cref="EpollLoop.Id"/>.</summary>
    public ReadOnlySpan<EpollLoop> All => _loops;

    public EpollLoop this[int id] => _loops[id];

    /// <summary>The next loop in round-robin order, for a connection the epoll transport's accepting loop took.</summary>
    public EpollLoop Next()
    {
        var loops = _loops;
        return loops.Length == 1 ? loops[0] : loops[Interlocked.Increment(ref _next) % (uint)loops.Length];
    }

    /// <summary>
    /// Stops every loop and closes its epoll and wake-up fds; waits for the threads unless called on one of them.
    /// Sockets still registered get no more events, so the server aborts its connections first. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var loop in _loops) loop?.Stop();
        foreach (var loop in _loops) loop?.Join();
    }
}
