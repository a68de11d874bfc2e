using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

/// <summary>
/// A socket or pipe could not be opened because this process is out of descriptors or buffers (the data plane's
/// budget, EMFILE, ENFILE, ENOBUFS, ENOMEM): a local condition, so it says nothing about the peer or backend.
/// </summary>
internal sealed class DescriptorsExhaustedException(SocketError error) : SocketException((int)error)
{
    /// <summary>The budget refused it before any syscall ran.</summary>
    public static DescriptorsExhaustedException Budget() => new(SocketError.TooManyOpenSockets);

    /// <summary>True for an errno that means local exhaustion rather than a network error.</summary>
    public static bool IsExhaustion(int errno) =>
        errno is SocketSyscalls.EMFILE or SocketSyscalls.ENFILE or SocketSyscalls.ENOBUFS or SocketSyscalls.ENOMEM;
}
