using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>The libc calls the splice relay needs: pipe2, fcntl(F_SETPIPE_SZ), splice, read, close (Linux x64/arm64 values).</summary>
internal static unsafe partial class LinuxSplice
{
    public const int EINTR = SocketSyscalls.EINTR;
    public const int EAGAIN = SocketSyscalls.EAGAIN;
    public const int EPIPE = SocketSyscalls.EPIPE;
    public const int ECONNRESET = SocketSyscalls.ECONNRESET;

    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int F_SETPIPE_SZ = 1031;
    private const int F_GETPIPE_SZ = 1032;
    private const uint SPLICE_F_MOVE = 1;
    private const uint SPLICE_F_NONBLOCK = 2;

    /// <summary>Creates a non-blocking, close-on-exec pipe; asks for <paramref name="size"/> bytes (best effort) and reports what it got.</summary>
    public static int CreatePipe(int size, out int readFd, out int writeFd, out int capacity)
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        {
            readFd = writeFd = capacity = -1;
            return Marshal.GetLastPInvokeError();
        }
        readFd = fds[0];
        writeFd = fds[1];
        // Without CAP_SYS_RESOURCE the kernel refuses sizes past pipe-max-size or the per-user page budget:
        // the default size (64 KiB) still works, only with more syscalls per megabyte.
        if (size > 0) fcntl(writeFd, F_SETPIPE_SZ, size);
        capacity = fcntl(writeFd, F_GETPIPE_SZ, 0);
        if (capacity <= 0) capacity = 64 * 1024;
        return 0;
    }

    /// <summary>Moves up to <paramref name="length"/> bytes without blocking; bytes moved, or -errno.</summary>
    public static long Splice(int fromFd, int toFd, int length)
    {
        while (true)
        {
            var n = splice(fromFd, null, toFd, null, (nuint)length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n >= 0) return n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR) return -errno;
        }
    }

    /// <summary>Reads from a pipe into <paramref name="buffer"/>; bytes read, or -errno.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = read(fd, p, (nuint)buffer.Length);
                if (n >= 0) return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR) return -errno;
            }
        }
    }

    public static void Close(int fd) => _ = close(fd); // nothing useful to do on EINTR/EIO at close: the fd is gone either way

    [LibraryImport("libc", SetLastError = true)]
    private static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint splice(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
