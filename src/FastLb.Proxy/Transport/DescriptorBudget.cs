using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// The descriptors the data plane may hold at once (client and upstream sockets, splice pipes), so that it can never
/// take the process to its descriptor limit: what is left over is the reserve of the runtime (a new thread-pool
/// thread needs a pipe), the control plane, logs, config reads and health checks.
/// </summary>
/// <remarks>
/// One per process, because RLIMIT_NOFILE is per process. Unlimited until the host calls <see cref="Configure"/>, so
/// in-process tests are not bounded by it. Taking and giving back is one atomic add each, once per connection.
/// When .NET starts a thread-pool thread with no descriptor left, the runtime prints "Out of memory." and aborts the
/// whole process; staying under the budget is what keeps that from happening.
/// </remarks>
internal sealed partial class DescriptorBudget
{
    /// <summary>The process's budget, set at start from the descriptor limit.</summary>
    public static DescriptorBudget Process { get; } = new();

    private int _capacity = int.MaxValue;
    private int _held;
    private long _refused;

    /// <summary>Descriptors the data plane may hold; <see cref="int.MaxValue"/> = not bounded.</summary>
    public int Capacity => Volatile.Read(ref _capacity);

    /// <summary>Descriptors the data plane holds now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Descriptors refused because the budget was spent (each refusal is a connection, connect or pipe that did not happen).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Bounds the data plane to <paramref name="capacity"/> descriptors.</summary>
    public void Configure(int capacity) => Volatile.Write(ref _capacity, Math.Max(0, capacity));

    /// <summary>Takes <paramref name="count"/> descriptors; false (and nothing taken) when that would pass the capacity.</summary>
    public bool TryTake(int count = 1)
    {
        if (Interlocked.Add(ref _held, count) <= Volatile.Read(ref _capacity)) return true;
        Interlocked.Add(ref _held, -count);
        Interlocked.Increment(ref _refused);
        return false;
    }

    /// <summary>Gives back descriptors taken with <see cref="TryTake"/>, once they are closed.</summary>
    public void Give(int count = 1) => Interlocked.Add(ref _held, -count);

    /// <summary>The soft RLIMIT_NOFILE of this process (.NET raised it to the hard limit at start), or -1 when unknown.</summary>
    public static long ReadDescriptorLimit()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        Span<ulong> limit = stackalloc ulong[2];
        unsafe
        {
            fixed (ulong* p = limit)
            {
                if (getrlimit(RLIMIT_NOFILE, p) != 0) return -1;
            }
        }
        return limit[0] > int.MaxValue ? int.MaxValue : (long)limit[0];
    }

    /// <summary>Descriptors this process has open now (entries of /proc/self/fd), or -1 when unknown.</summary>
    public static int CountOpenDescriptors()
    {
        try
        {
            // The enumeration itself holds one descriptor (the directory), which is not counted.
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() - 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// The descriptors to leave outside the data plane's budget on top of those already open: a quarter of the limit,
    /// at least 64 and at most 256 (thread-pool threads, control and status clients, health checks, reload reads).
    /// </summary>
    public static int DefaultReserve(long limit) => (int)Math.Clamp(limit / 4, 64, 256);

    private const int RLIMIT_NOFILE = 7;

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getrlimit(int resource, ulong* limit);
}
