using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// A Unix stream socket pair whose messages can carry file descriptors (SCM_RIGHTS, unix(7)): how a process upgrade
/// hands its listening sockets to the next process. Blocking calls, for the control plane only.
/// </summary>
/// <remarks>
/// Layouts are the LP64 Linux ones (x86-64 and arm64 alike): msghdr is 56 bytes, cmsghdr 16 bytes followed by the
/// descriptors. The kernel attaches a message's descriptors to its first byte and never merges two messages that
/// carry descriptors, so a reader that asks for at most one message's bytes gets them with their descriptors.
/// </remarks>
internal static unsafe partial class FdPassing
{
    /// <summary>Descriptors sent with one message; the kernel's limit (SCM_MAX_FD) is 253.</summary>
    public const int MaxFdsPerMessage = 250;

    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1;
    private const int SCM_RIGHTS = 1;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;
    private const int F_SETFD = 2;
    private const int FD_CLOEXEC = 1;
    private const int EINTR = 4;
    private const short POLLIN = 1;
    private const int CmsgHeaderBytes = 16;

    /// <summary>Creates a connected pair; both ends close on exec until <see cref="Inherit"/> says otherwise.</summary>
    public static (int First, int Second) CreatePair()
    {
        var fds = stackalloc int[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw Error();
        return (fds[0], fds[1]);
    }

    /// <summary>Lets <paramref name="fd"/> survive exec: a child started next inherits it under the same number.</summary>
    public static void Inherit(int fd)
    {
        if (fcntl(fd, F_SETFD, 0) != 0) throw Error();
    }

    /// <summary>Marks <paramref name="fd"/> close-on-exec (an inherited descriptor, once taken over).</summary>
    public static void CloseOnExec(int fd) => fcntl(fd, F_SETFD, FD_CLOEXEC);

    public static void Close(int fd) => close(fd);

    /// <summary>Sends all of <paramref name="data"/> (at least one byte); <paramref name="fds"/> ride on its first byte.</summary>
    public static void Send(int fd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        if (data.IsEmpty) throw new ArgumentException("a message carries at least one byte", nameof(data));
        if (fds.Length > MaxFdsPerMessage) throw new ArgumentException($"at most {MaxFdsPerMessage} descriptors per message", nameof(fds));
        var controlBytes = fds.IsEmpty ? 0 : CmsgHeaderBytes + Align8(fds.Length * sizeof(int));
        var control = stackalloc byte[Math.Max(controlBytes, 1)];
        new Span<byte>(control, Math.Max(controlBytes, 1)).Clear();
        if (controlBytes > 0)
        {
            *(nuint*)control = (nuint)(CmsgHeaderBytes + (fds.Length * sizeof(int)));
            *(int*)(control + 8) = SOL_SOCKET;
            *(int*)(control + 12) = SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + CmsgHeaderBytes, fds.Length));
        }
        var sent = 0;
        fixed (byte* bytes = data)
        {
            while (sent < data.Length)
            {
                var iov = new IoVec { Base = bytes + sent, Length = (nuint)(data.Length - sent) };
                var message = new MessageHeader { Iov = &iov, IovLength = 1 };
                if (sent == 0 && controlBytes > 0)
                {
                    message.Control = control;
                    message.ControlLength = (nuint)controlBytes;
                }
                var n = sendmsg(fd, &message, MSG_NOSIGNAL);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR) continue;
                    throw Error();
                }
                sent += (int)n;
            }
        }
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes; descriptors that came with them are added to
    /// <paramref name="fds"/> (close-on-exec). Returns 0 at end of stream.
    /// </summary>
    public static int Receive(int fd, Span<byte> buffer, List<int> fds)
    {
        const int controlBytes = CmsgHeaderBytes + (MaxFdsPerMessage * sizeof(int)) + 16;
        var control = stackalloc byte[controlBytes];
        while (true)
        {
            fixed (byte* bytes = buffer)
            {
                var iov = new IoVec { Base = bytes, Length = (nuint)buffer.Length };
                var message = new MessageHeader { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlBytes };
                var n = recvmsg(fd, &message, MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR) continue;
                    throw Error();
                }
                var offset = 0;
                var length = (int)message.ControlLength;
                while (offset + CmsgHeaderBytes <= length)
                {
                    var cmsgLength = (int)*(nuint*)(control + offset);
                    if (cmsgLength < CmsgHeaderBytes) break;
                    if (*(int*)(control + offset + 8) == SOL_SOCKET && *(int*)(control + offset + 12) == SCM_RIGHTS)
                    {
                        var count = (cmsgLength - CmsgHeaderBytes) / sizeof(int);
                        for (var i = 0; i < count; i++) fds.Add(*(int*)(control + offset + CmsgHeaderBytes + (i * sizeof(int))));
                    }
                    offset += CmsgHeaderBytes + Align8(cmsgLength - CmsgHeaderBytes);
                }
                if ((message.Flags & 0x8 /* MSG_CTRUNC */) != 0) throw new IOException("descriptors were truncated in transit");
                return (int)n;
            }
        }
    }

    /// <summary>Waits until <paramref name="fd"/> is readable (or at end of stream); false when <paramref name="timeoutMs"/> passed first.</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            var p = new PollFd { Fd = fd, Events = POLLIN };
            var left = (int)Math.Max(0, deadline - Environment.TickCount64);
            var n = poll(&p, 1, left);
            if (n > 0) return true;
            if (n == 0) return false;
            if (Marshal.GetLastPInvokeError() != EINTR) throw Error();
        }
    }

    private static int Align8(int n) => (n + 7) & ~7;

    private static SocketException Error() => new(Marshal.GetLastPInvokeError());

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
