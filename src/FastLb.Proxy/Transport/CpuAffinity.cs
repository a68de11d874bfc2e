using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>sched_getaffinity/sched_setaffinity for pinning event loops (Linux; up to 1,024 CPUs).</summary>
internal static unsafe partial class CpuAffinity
{
    private const int MaskBytes = 128;

    /// <summary>The CPUs the calling thread may run on (inherited from the process), in ascending order; empty if unknown.</summary>
    public static int[] AllowedCpus()
    {
        var mask = stackalloc byte[MaskBytes];
        if (sched_getaffinity(0, MaskBytes, mask) != 0) return [];
        var cpus = new List<int>();
        for (var i = 0; i < MaskBytes * 8; i++)
        {
            if ((mask[i / 8] & (1 << (i % 8))) != 0) cpus.Add(i);
        }
        return [.. cpus];
    }

    /// <summary>Restricts the calling thread to <paramref name="cpu"/>; 0 or -errno.</summary>
    public static int PinCurrentThread(int cpu)
    {
        var mask = stackalloc byte[MaskBytes];
        new Span<byte>(mask, MaskBytes).Clear();
        mask[cpu / 8] = (byte)(1 << (cpu % 8));
        return sched_setaffinity(0, MaskBytes, mask) == 0 ? 0 : -Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nuint size, byte* mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint size, byte* mask);
}
