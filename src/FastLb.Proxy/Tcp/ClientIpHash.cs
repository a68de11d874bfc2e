using System.Net;
using System.Net.Sockets;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Tcp;

/// <summary>
/// The balancing hash of a client address: <see cref="KeyHash"/> over its bytes, allocation-free; IPv4-mapped IPv6
/// hashes like the plain IPv4 address.
/// </summary>
internal static class ClientIpHash
{
    public static ulong Compute(EndPoint? remote) => remote is IPEndPoint ip ? Compute(ip.Address) : 0;

    public static ulong Compute(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written)) return 0;
        ReadOnlySpan<byte> key = bytes[..written];
        if (written == 16 && address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6)
        {
            key = key[12..]; // ::ffff:a.b.c.d hashes as a.b.c.d, so dual-mode and IPv4 listeners agree.
        }
        return KeyHash.Of(key);
    }
}
