using System.Net;
using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class EpollSocket
{
    /// <summary>
    /// Opens a connection to <paramref name="endPoint"/> whose readiness <paramref name="loop"/> delivers: the loop of the
    /// client connection it serves, so both ends of an exchange run on one thread.
    /// Throws <see cref="DescriptorsExhaustedException"/> when this process is out of descriptors,
    /// <see cref="SocketException"/> when refused or unreachable and <see cref="OperationCanceledException"/>
    /// when <paramref name="ct"/> fires first; the socket is closed on every failure.
    /// </summary>
    public static async ValueTask<EpollSocket> ConnectAsync(IPEndPoint endPoint, EpollLoop loop, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        // Out of descriptors is this process's condition, not the backend's: a distinct exception, so it does not
        // count against the backend's health.
        var budget = DescriptorBudget.Process;
        if (!budget.TryTake()) throw DescriptorsExhaustedException.Budget();
        var fd = SocketSyscalls.CreateTcpSocket(endPoint.AddressFamily);
        if (fd < 0)
        {
            budget.Give();
            if (DescriptorsExhaustedException.IsExhaustion(-fd)) throw new DescriptorsExhaustedException(SocketSyscalls.ToSocketError(-fd));
            throw SocketSyscalls.ToException(-fd);
        }
        var handle = new SocketFdHandle(fd, budget);
        SocketSyscalls.SetInt(fd, SocketSyscalls.IPPROTO_TCP, SocketSyscalls.TCP_NODELAY, 1);
        var rc = StartConnect(fd, endPoint);
        if (rc < 0 && rc != -SocketSyscalls.EINPROGRESS)
        {
            handle.Dispose();
            throw SocketSyscalls.ToException(-rc);
        }
        // Registered only now: a socket registered before connect() reports HUP at once, which would read as "done".
        var socket = Register(fd, handle, loop, readable: false, writable: rc == 0, PeerAddress.From(endPoint));
        if (rc == 0) return socket;
        bool writable;
        using (ct.UnsafeRegister(static s => ((EpollSocket)s!).Abort(), socket))
        {
            writable = await socket.WaitWritableAsync().ConfigureAwait(false);
        }
        if (!writable)
        {
            socket.Dispose();
            ct.ThrowIfCancellationRequested();
            throw new SocketException((int)SocketError.OperationAborted);
        }
        var error = socket.PendingError();
        if (error != 0)
        {
            socket.Dispose();
            throw SocketSyscalls.ToException(error);
        }
        return socket;
    }

    private static unsafe int StartConnect(int fd, IPEndPoint endPoint)
    {
        var address = stackalloc byte[SocketAddressCodec.MaxLength];
        var length = SocketAddressCodec.Write(endPoint, new Span<byte>(address, SocketAddressCodec.MaxLength));
        return SocketSyscalls.Connect(fd, address, length);
    }

    /// <summary>SO_ERROR: 0 once a connect succeeded, else its errno.</summary>
    private int PendingError()
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var rc = SocketSyscalls.GetInt(_fd, SocketSyscalls.SOL_SOCKET, SocketSyscalls.SO_ERROR, out var error);
            return rc < 0 ? -rc : error;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }
}
