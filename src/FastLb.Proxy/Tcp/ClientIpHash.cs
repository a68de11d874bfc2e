using System.Net;
using System.Net.Sockets;

namespace FastLb.Proxy.Tcp;

/// <summary>
/// FNV-1a (64-bit) over the address bytes, finished with a murmur3 fmix64 so nearby addresses spread out.
/// O(address length), allocation-free; IPv4-mapped IPv6 hashes like the plain IPv4 address.
/// </summary>
internal static class ClientIpHash
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

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
        var h = FnvOffset;
        foreach (var b in key)
        {
            h ^= b;
            h *= FnvPrime;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
