using System.Net;

namespace FastLb.Core.ProxyProtocol;

/// <summary>A parsed PROXY protocol header: version, command and, for <see cref="ProxyCommand.Proxy"/>, both endpoints.</summary>
internal struct ProxyHeader
{
    public byte Version;
    public ProxyCommand Command;

    /// <summary>4 (IPv4) or 16 (IPv6) when <see cref="Command"/> is Proxy; 0 otherwise.</summary>
    public byte AddressLength;
    public ProxyAddressBytes Source;
    public ProxyAddressBytes Destination;
    public ushort SourcePort;
    public ushort DestinationPort;

    /// <summary>The original client, or null for a LOCAL/UNKNOWN header (the peer is the client). Allocates; call once per connection.</summary>
    public readonly IPEndPoint? SourceEndPoint() => AddressLength == 0 ? null : new IPEndPoint(new IPAddress(((ReadOnlySpan<byte>)Source)[..AddressLength]), SourcePort);

    /// <summary>The address the client connected to, or null for a LOCAL/UNKNOWN header.</summary>
    public readonly IPEndPoint? DestinationEndPoint() => AddressLength == 0 ? null : new IPEndPoint(new IPAddress(((ReadOnlySpan<byte>)Destination)[..AddressLength]), DestinationPort);
}
