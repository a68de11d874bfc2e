using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>The libc socket and epoll calls of the event-loop transport (Linux x64/arm64 constants).</summary>
/// <remarks>Every wrapper retries EINTR and returns -errno instead of throwing, so callers decide what an error means.</remarks>
internal static unsafe partial class SocketSyscalls
{
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int EPIPE = 32;
    public const int ENETUNREACH = 101;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int ENOTCONN = 107;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;
    public const int EINPROGRESS = 115;

    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_PEEK = 0x2;
    public const int MSG_WAITALL = 0x100;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int SHUT_RD = 0;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    /// <summary>Size of one <c>struct epoll_event</c>: packed (12 bytes) on x86-64, naturally aligned (16) elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 12 : 16;

    public static int LastErrno => Marshal.GetLastPInvokeError();

    public static long Receive(int fd, byte* buffer, int length)
    {
        while (true)
        {
            var n = recv(fd, buffer, (nuint)length, 0);
            if (n >= 0) return n;
            var errno = LastErrno;
            if (errno != EINTR) return -errno;
        }
    }

    /// <summary>recv with MSG_PEEK: copies what is queued without consuming it.</summary>
    public static long Peek(int fd, byte* buffer, int length)
    {
        while (true)
        {
            var n = recv(fd, buffer, (nuint)length, MSG_PEEK);
            if (n >= 0) return n;
            var errno = LastErrno;
            if (errno != EINTR) return -errno;
        }
    }

    /// <summary>getsockname: the local address; 0 or -errno.</summary>
    public static int GetSockName(int fd, byte* address, int* length) => getsockname(fd, address, length) == 0 ? 0 : -LastErrno;

    public static long Send(int fd, byte* buffer, int length)
    {
        while (true)
        {
            var n = send(fd, buffer, (nuint)length, MSG_NOSIGNAL);
            if (n >= 0) return n;
            var errno = LastErrno;
            if (errno != EINTR) return -errno;
        }
    }

    /// <summary>A non-blocking, close-on-exec TCP socket; fd or -errno.</summary>
    public static int CreateTcpSocket(AddressFamily family)
    {
        var fd = socket(family == AddressFamily.InterNetworkV6 ? 10 : 2, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        return fd >= 0 ? fd : -LastErrno;
    }

    /// <summary>0 when connected at once, -EINPROGRESS while the handshake runs, else -errno.</summary>
    public static int Connect(int fd, byte* address, int length)
    {
        while (true)
        {
            if (connect(fd, address, length) == 0) return 0;
            var errno = LastErrno;
            if (errno != EINTR) return -errno;
        }
    }

    /// <summary>An accepted non-blocking, close-on-exec fd, or -errno (-EAGAIN when the backlog is empty).</summary>
    public static int Accept(int fd, byte* address, int* length)
    {
        while (true)
        {
            var n = accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (n >= 0) return n;
            var errno = LastErrno;
            if (errno != EINTR) return -errno;
        }
    }

    public static int SetInt(int fd, int level, int name, int value) =>
        setsockopt(fd, level, name, &value, sizeof(int)) == 0 ? 0 : -LastErrno;

    public static int GetInt(int fd, int level, int name, out int value)
    {
        int v = 0, len = sizeof(int);
        var rc = getsockopt(fd, level, name, &v, &len);
        value = v;
        return rc == 0 ? 0 : -LastErrno;
    }

    /// <summary>SO_LINGER on with timeout 0: close() then discards unsent data and sends RST.</summary>
    public static int SetLingerZero(int fd)
    {
        var linger = stackalloc int[2] { 1, 0 };
        return setsockopt(fd, SOL_SOCKET, SO_LINGER, linger, 2 * sizeof(int)) == 0 ? 0 : -LastErrno;
    }

    public static int Shutdown(int fd, int how) => shutdown(fd, how) == 0 ? 0 : -LastErrno;

    public static int Close(int fd) => close(fd) == 0 ? 0 : -LastErrno;

    public static int EpollCreate()
    {
        var fd = epoll_create1(EPOLL_CLOEXEC);
        return fd >= 0 ? fd : -LastErrno;
    }

    public static int EpollAdd(int epfd, int fd, uint events, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        Unsafe.WriteUnaligned(ev + 4, data);
        if (EpollEventSize == 16) Unsafe.WriteUnaligned(ev + 8, data);
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev) == 0 ? 0 : -LastErrno;
    }

    /// <summary>Removes <paramref name="fd"/> from the epoll set; 0 or -errno.</summary>
    public static int EpollDelete(int epfd, int fd)
    {
        var ev = stackalloc byte[16]; // ignored by EPOLL_CTL_DEL, but kernels before 2.6.9 wanted it non-null
        return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, ev) == 0 ? 0 : -LastErrno;
    }

    /// <summary>Reads the events and data of entry <paramref name="index"/> of an epoll_wait buffer.</summary>
    public static void ReadEvent(byte* events, int index, out uint mask, out ulong data)
    {
        var e = events + index * EpollEventSize;
        mask = *(uint*)e;
        data = EpollEventSize == 12 ? Unsafe.ReadUnaligned<ulong>(e + 4) : Unsafe.ReadUnaligned<ulong>(e + 8);
    }

    /// <summary>Ready events, or -errno (EINTR included: the caller just waits again).</summary>
    public static int EpollWait(int epfd, byte* events, int max, int timeoutMs)
    {
        var n = epoll_wait(epfd, events, max, timeoutMs);
        return n >= 0 ? n : -LastErrno;
    }

    public static int CreateEventFd()
    {
        var fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        return fd >= 0 ? fd : -LastErrno;
    }

    public static void SignalEventFd(int fd)
    {
        ulong one = 1;
        write(fd, &one, 8);
    }

    public static void DrainEventFd(int fd)
    {
        ulong value;
        read(fd, &value, 8);
    }

    /// <summary>The <see cref="SocketError"/> .NET reports for an errno, so callers keep matching on SocketException codes.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        ECONNRESET => SocketError.ConnectionReset,
        EPIPE => SocketError.Shutdown,
        ECONNREFUSED => SocketError.ConnectionRefused,
        ETIMEDOUT => SocketError.TimedOut,
        EHOSTUNREACH => SocketError.HostUnreachable,
        ENETUNREACH => SocketError.NetworkUnreachable,
        ENOTCONN => SocketError.NotConnected,
        ECONNABORTED => SocketError.ConnectionAborted,
        EMFILE or ENFILE => SocketError.TooManyOpenSockets,
        ENOBUFS or ENOMEM => SocketError.NoBufferSpaceAvailable,
        EBADF => SocketError.OperationAborted,
        EAGAIN => SocketError.WouldBlock,
        EINPROGRESS => SocketError.InProgress,
        _ => SocketError.SocketError,
    };

    public static SocketException ToException(int errno) => new((int)ToSocketError(errno));

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, byte* address, int* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockname(int fd, byte* address, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, void* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buffer, nuint count);
}
