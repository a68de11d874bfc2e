using System.Runtime.CompilerServices;

namespace FastLb.Core.ProxyProtocol;

/// <summary>Room for one IPv4 or IPv6 address inside <see cref="ProxyHeader"/>, so parsing allocates nothing.</summary>
[InlineArray(16)]
internal struct ProxyAddressBytes
{
    private byte _first;
}
