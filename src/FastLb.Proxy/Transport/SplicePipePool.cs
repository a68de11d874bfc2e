namespace FastLb.Proxy.Transport;

/// <summary>Empty kernel pipes shared by every splice relay of one server, so a connection holds a pipe only while bytes are in flight.</summary>
/// <remarks>
/// A relay direction rents a pipe when its source turns readable and returns it once the pipe is empty and the
/// source would block, so idle connections hold no pipe, pipe2 runs only when the pool is dry, and the per-user
/// pipe page budget (fs.pipe-user-pages-soft) is spent on traffic, not on connections. Only an empty pipe may
/// come back: one with bytes stuck in it (an aborted relay) is closed instead. Every pipe is closed exactly once:
/// by <see cref="Discard"/>, by a return past the cap or after dispose, or by <see cref="Dispose"/>.
/// Without CAP_SYS_RESOURCE a user's pipes share fs.pipe-user-pages-soft (64 MiB by default): past it the kernel
/// refuses the 1 MiB size and new pipes get two pages. Relays still work then, with more syscalls per megabyte.
/// </remarks>
internal sealed class SplicePipePool(int pipeSize = SplicePipePool.DefaultPipeSize, int maxRetained = 64) : IDisposable
{
    /// <summary>
    /// 1 MiB (fs.pipe-max-size's default) cost about 10% less CPU per byte than 256 KiB and 30% less than the 64 KiB
    /// default in iperf3 runs (perf-results/2026-11-26-l4-splice.md): fewer splice calls and wake-ups per megabyte.
    /// An empty pipe pins no data pages, only its slot array.
    /// </summary>
    public const int DefaultPipeSize = 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly SplicePipe[] _free = new SplicePipe[maxRetained];
    private int _count;
    private int _open;
    private int _rented;
    private bool _disposed;

    /// <summary>Where each pipe's two descriptors come from: the process's budget; a test may set its own before any rent.</summary>
    internal DescriptorBudget Budget { get; set; } = DescriptorBudget.Process;

    /// <summary>Pipes created and not yet closed (idle in the pool or rented).</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Pipes currently out of the pool (tests check that a closed connection gave everything back).</summary>
    public int Rented => Volatile.Read(ref _rented);

    /// <summary>An empty pipe; 0, or the errno of a failed pipe2 (EMFILE, ENFILE; EMFILE also when the descriptor budget is spent).</summary>
    public int Rent(out SplicePipe pipe)
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                pipe = _free[--_count];
                Interlocked.Increment(ref _rented);
                return 0;
            }
        }
        // Two descriptors from the data plane's budget: past it, the relay fails as it would at EMFILE.
        var budget = Budget;
        if (!budget.TryTake(2))
        {
            pipe = default;
            return SocketSyscalls.EMFILE;
        }
        var errno = LinuxSplice.CreatePipe(pipeSize, out var readFd, out var writeFd, out var capacity);
        if (errno != 0)
        {
            budget.Give(2);
            pipe = default;
            return errno;
        }
        pipe = new SplicePipe(readFd, writeFd, capacity);
        Interlocked.Increment(ref _open);
        Interlocked.Increment(ref _rented);
        return 0;
    }

    /// <summary>Gives back a pipe the caller drained to empty.</summary>
    public void Return(SplicePipe pipe)
    {
        Interlocked.Decrement(ref _rented);
        lock (_lock)
        {
            if (!_disposed && _count < _free.Length)
            {
                _free[_count++] = pipe;
                return;
            }
        }
        CloseFds(pipe);
    }

    /// <summary>Closes a rented pipe that may still hold bytes.</summary>
    public void Discard(SplicePipe pipe)
    {
        Interlocked.Decrement(ref _rented);
        CloseFds(pipe);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            while (_count > 0) CloseFds(_free[--_count]);
        }
    }

    private void CloseFds(SplicePipe pipe)
    {
        LinuxSplice.Close(pipe.ReadFd);
        LinuxSplice.Close(pipe.WriteFd);
        Budget.Give(2);
        Interlocked.Decrement(ref _open);
    }
}
