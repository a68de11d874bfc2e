using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary>The raw io_uring system calls (through libc's <c>syscall</c>) and the memory mappings the rings live in.</summary>
/// <remarks>Every wrapper returns the result or -errno; nothing throws.</remarks>
internal static unsafe partial class UringSyscalls
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int ETIME = 62;
    public const int ENOBUFS = 105;
    public const int ECANCELED = 125;
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EALREADY = 114;

    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapShared = 0x01;
    private const int MapPrivate = 0x02;
    private const int MapAnon = 0x20;
    private const int MapPopulate = 0x8000;

    public static int Setup(uint entries, IoUringParams* p)
    {
        var rc = syscall(UringConstants.SysIoUringSetup, (nint)entries, (nint)p, 0, 0, 0, 0);
        return rc >= 0 ? (int)rc : -Marshal.GetLastPInvokeError();
    }

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize)
    {
        var rc = syscall(UringConstants.SysIoUringEnter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, (nint)arg, (nint)argSize);
        return rc >= 0 ? (int)rc : -Marshal.GetLastPInvokeError();
    }

    public static int Register(int fd, uint opcode, void* arg, uint count)
    {
        var rc = syscall(UringConstants.SysIoUringRegister, fd, (nint)opcode, (nint)arg, (nint)count, 0, 0);
        return rc >= 0 ? (int)rc : -Marshal.GetLastPInvokeError();
    }

    /// <summary>Maps <paramref name="length"/> bytes of the ring fd at <paramref name="offset"/>, shared with the kernel; null on failure.</summary>
    public static void* MapRing(int fd, nuint length, long offset)
    {
        var p = mmap(null, length, ProtRead | ProtWrite, MapShared | MapPopulate, fd, offset);
        return p == (void*)-1 ? null : p;
    }

    /// <summary>Zeroed, page-aligned anonymous memory (a provided-buffer ring must start on a page); null on failure.</summary>
    public static void* MapAnonymous(nuint length)
    {
        var p = mmap(null, length, ProtRead | ProtWrite, MapPrivate | MapAnon, -1, 0);
        return p == (void*)-1 ? null : p;
    }

    public static void Unmap(void* address, nuint length)
    {
        if (address != null) munmap(address, length);
    }

    public static int Close(int fd) => close(fd);

    /// <summary>A connected pair of non-blocking Unix stream sockets (for probing multishot receive); 0 or -errno.</summary>
    public static int SocketPair(int* fds)
    {
        const int AfUnix = 1, SockStream = 1, SockNonBlock = 0x800, SockCloexec = 0x80000;
        return socketpair(AfUnix, SockStream | SockNonBlock | SockCloexec, 0, fds) == 0 ? 0 : -Marshal.GetLastPInvokeError();
    }

    public static long Write(int fd, byte* buffer, int length)
    {
        var n = write(fd, buffer, (nuint)length);
        return n >= 0 ? n : -Marshal.GetLastPInvokeError();
    }

    // libc's syscall(2) is variadic; on Linux x86-64 and arm64 integer variadic arguments travel in the same registers
    // as fixed ones, so a fixed six-argument import is exact.
    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* address, nuint length);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nuint count);
}
