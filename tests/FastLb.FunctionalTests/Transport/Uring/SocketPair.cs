using System.Runtime.InteropServices;
using System.Text;

namespace FastLb.FunctionalTests.Transport.Uring;

/// <summary>A connected pair of non-blocking Unix stream sockets for ring tests: <see cref="Local"/> is the end under test.</summary>
internal sealed unsafe partial class SocketPair : IDisposable
{
    private SocketPair(int local, int peer)
    {
        Local = local;
        Peer = peer;
    }

    public int Local { get; }

    public int Peer { get; }

    public static SocketPair Create()
    {
        var fds = stackalloc int[2];
        if (socketpair(1, 1 | 0x800 | 0x80000, 0, fds) != 0) throw new IOException($"socketpair: errno {Marshal.GetLastPInvokeError()}");
        return new SocketPair(fds[0], fds[1]);
    }

    /// <summary>Writes all of <paramref name="data"/> from the peer end.</summary>
    public void Write(byte[] data)
    {
        fixed (byte* p = data)
        {
            if (write(Peer, p, (nuint)data.Length) != data.Length) throw new IOException("short write");
        }
    }

    /// <summary>What is queued at the local end now (a plain non-blocking read), as ASCII.</summary>
    public string ReadLocal(int max)
    {
        var buffer = new byte[max];
        fixed (byte* p = buffer)
        {
            var n = read(Local, p, (nuint)max);
            return n > 0 ? Encoding.ASCII.GetString(buffer, 0, (int)n) : "";
        }
    }

    public void Dispose()
    {
        _ = close(Local);
        _ = close(Peer);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socketpair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
