using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class EpollSocket
{
    private long _accepted; // a listener's: connections it took (its loop's thread writes)

    /// <summary>Connections this listener took on its loop (read anywhere; for tests and balance checks).</summary>
    public long AcceptedCount => Volatile.Read(ref _accepted);

    /// <summary>
    /// Takes over a bound, listening .NET socket for accepting on <paramref name="loop"/>. The .NET object only
    /// binds (for its error messages); it must not be used for I/O afterwards.
    /// </summary>
    public static EpollSocket ForListener(Socket listening, EpollLoop loop)
    {
        listening.Blocking = false;
        // Linux copies TCP_NODELAY from the listening socket to every accepted one: set once here, not per connection.
        listening.NoDelay = true;
        var handle = listening.SafeHandle;
        return Register((int)handle.DangerousGetHandle(), handle, loop, readable: true, writable: false, remote: default);
    }

    /// <summary>
    /// Closes a listening socket whose descriptor another process may also hold (handed over by an upgrade): it leaves
    /// this loop's epoll set first, since the kernel drops a registration only when the last descriptor closes.
    /// </summary>
    public void CloseListener()
    {
        if (_ringAcceptor is { } acceptor)
        {
            // No more arms; then the close, and the cancels of the accepts in the kernel, which hold the socket's
            // file: once FlushRing returned they ran, and the socket no longer listens. What they accepted meanwhile
            // is closed as it completes.
            acceptor.Stop();
            Dispose();
            Loop.CancelAccepts(this);
            Loop.FlushRing();
            return;
        }
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            Loop.RemoveFromEpoll(_fd);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        Dispose();
        Loop.FlushRing(); // a ring loop: the poll's cancel has run, so the socket no longer listens
    }

    /// <summary>Accepts one pending connection and closes it at once, through <paramref name="reserve"/> (needs no free descriptor); false when none was pending.</summary>
    public bool AcceptAndClose(ReserveDescriptor reserve)
    {
        ConsumeReadReadiness();
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return reserve.AcceptAndClose(_fd);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Accepts one pending connection onto <paramref name="loop"/>, or when it is null onto the next loop in
    /// round-robin order of this listener's loops (<see cref="EventLoops.Next"/>); null when the backlog is empty.
    /// </summary>
    /// <remarks>
    /// The round-robin turn is taken only once a connection was accepted. Taking it per attempt let the empty accept
    /// that ends each burst consume a turn, so with 2 loops and clients arriving one by one every connection landed on
    /// the same loop (perf-results/2026-11-26-loop-balance.md).
    /// </remarks>
    /// <param name="loop">The loop to serve the connection; null = the next one in round-robin order.</param>
    /// <param name="registerOnOtherLoop">
    /// For a connection served by another loop than this listener's: true registers it there now, so that loop's
    /// first edge starts it; false leaves it unregistered like one served here (readable and writable until a
    /// syscall says otherwise, registered on its first wait), for a caller that starts it on that loop itself
    /// (<see cref="EpollLoop.Post"/>).
    /// </param>
    /// <exception cref="DescriptorsExhaustedException">Out of descriptors: the data plane's budget, EMFILE, ENFILE, ENOBUFS.</exception>
    /// <exception cref="SocketException">accept failed otherwise (a client gone from the backlog).</exception>
    /// <exception cref="ObjectDisposedException">The listener was closed.</exception>
    public unsafe EpollSocket? Accept(EpollLoop? loop = null, bool registerOnOtherLoop = true)
    {
        ConsumeReadReadiness();
        var address = stackalloc byte[SocketAddressCodec.MaxLength];
        var length = SocketAddressCodec.MaxLength;
        int fd;
        var budget = DescriptorBudget.Process;
        if (!budget.TryTake()) throw DescriptorsExhaustedException.Budget();
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            fd = SocketSyscalls.Accept(_fd, address, &length);
        }
        catch
        {
            budget.Give();
            throw;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
        if (fd < 0)
        {
            budget.Give();
            if (fd == -SocketSyscalls.EAGAIN) return null;
            if (DescriptorsExhaustedException.IsExhaustion(-fd)) throw new DescriptorsExhaustedException(SocketSyscalls.ToSocketError(-fd));
            throw SocketSyscalls.ToException(-fd);
        }
        var remote = SocketAddressCodec.ReadPeer(new ReadOnlySpan<byte>(address, Math.Min(length, SocketAddressCodec.MaxLength)));
        return Accepted(fd, remote, budget, loop, registerOnOtherLoop);
    }
}
