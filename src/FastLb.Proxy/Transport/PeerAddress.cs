using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

/// <summary>
/// A socket's peer address kept inline (24 bytes) rather than as an <see cref="IPEndPoint"/> and its
/// <see cref="IPAddress"/> (72 bytes in two objects): every open socket holds one, most never ask for it again after
/// their connection started, and an idle parked connection should hold as little as possible.
/// </summary>
internal readonly struct PeerAddress
{
    private readonly ulong _high;  // IPv6: the first 8 bytes (network order, as read)
    private readonly ulong _low;   // IPv6: the last 8 bytes; IPv4: the 4 address bytes
    private readonly uint _scopeId;
    private readonly ushort _port;
    private readonly byte _family; // 0 = none, 4, 6

    private PeerAddress(ulong high, ulong low, uint scopeId, ushort port, byte family)
    {
        _high = high;
        _low = low;
        _scopeId = scopeId;
        _port = port;
        _family = family;
    }

    public static PeerAddress From(IPEndPoint? endPoint)
    {
        if (endPoint is null) return default;
        Span<byte> bytes = stackalloc byte[16];
        var address = endPoint.Address;
        if (!address.TryWriteBytes(bytes, out var written)) return default;
        var port = (ushort)endPoint.Port;
        return address.AddressFamily == AddressFamily.InterNetwork && written == 4
            ? IPv4(bytes[..4], port)
            : IPv6(bytes, (uint)address.ScopeId, port);
    }

    /// <summary>An IPv4 address from its 4 bytes in network order.</summary>
    public static PeerAddress IPv4(ReadOnlySpan<byte> address, ushort port) =>
        new(0, BinaryPrimitives.ReadUInt32BigEndian(address), 0, port, 4);

    /// <summary>An IPv6 address from its 16 bytes in network order.</summary>
    public static PeerAddress IPv6(ReadOnlySpan<byte> address, uint scopeId, ushort port) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]), scopeId, port, 6);

    /// <summary>A new <see cref="IPEndPoint"/> for the address, or null when there is none.</summary>
    public IPEndPoint? ToEndPoint()
    {
        switch (_family)
        {
            case 4:
                Span<byte> v4 = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)_low);
                return new IPEndPoint(new IPAddress(v4), _port);
            case 6:
                Span<byte> v6 = stackalloc byte[16];
                BinaryPrimitives.WriteUInt64BigEndian(v6, _high);
                BinaryPrimitives.WriteUInt64BigEndian(v6[8..], _low);
                return new IPEndPoint(new IPAddress(v6, _scopeId), _port);
            default:
                return null;
        }
    }
}
