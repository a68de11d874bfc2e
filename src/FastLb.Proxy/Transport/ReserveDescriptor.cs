using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// One descriptor held open (/dev/null) so that an accept loop out of descriptors can still accept a connection in
/// order to close it: it closes the spare, accepts, closes the connection and opens the spare again (the libev and
/// nginx way). Without it, a listener at EMFILE keeps reporting readable for a backlog it cannot empty.
/// </summary>
internal sealed partial class ReserveDescriptor : IDisposable
{
    private readonly Lock _lock = new();
    private int _fd;

    public ReserveDescriptor() => _fd = OpenDevNull();

    /// <summary>True while the spare is held (it could not be opened again after a use, until a later try).</summary>
    public bool Held
    {
        get
        {
            lock (_lock) return _fd >= 0;
        }
    }

    /// <summary>Accepts one pending connection on <paramref name="listenFd"/> and closes it at once; false when none was pending.</summary>
    public unsafe bool AcceptAndClose(int listenFd)
    {
        lock (_lock)
        {
            if (_fd >= 0)
            {
                SocketSyscalls.Close(_fd);
                _fd = -1;
            }
            var address = stackalloc byte[SocketAddressCodec.MaxLength];
            var length = SocketAddressCodec.MaxLength;
            var fd = SocketSyscalls.Accept(listenFd, address, &length);
            if (fd >= 0) SocketSyscalls.Close(fd);
            _fd = OpenDevNull();
            return fd >= 0;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_fd >= 0) SocketSyscalls.Close(_fd);
            _fd = -1;
        }
    }

    private static int OpenDevNull() => open("/dev/null", O_RDONLY | O_CLOEXEC);

    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}
