using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

/// <summary>IPEndPoint ↔ Linux <c>sockaddr_in</c>/<c>sockaddr_in6</c> bytes.</summary>
internal static class SocketAddressCodec
{
    /// <summary>Room for either address family.</summary>
    public const int MaxLength = 28;

    private const ushort AF_INET = 2;
    private const ushort AF_INET6 = 10;

    /// <summary>Writes <paramref name="endPoint"/> into <paramref name="buffer"/> (≥ <see cref="MaxLength"/>); returns its length.</summary>
    public static int Write(IPEndPoint endPoint, Span<byte> buffer)
    {
        buffer[..MaxLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)endPoint.Port);
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(buffer, AF_INET);
            endPoint.Address.TryWriteBytes(buffer[4..8], out _);
            return 16;
        }
        BitConverter.TryWriteBytes(buffer, AF_INET6);
        endPoint.Address.TryWriteBytes(buffer[8..24], out _);
        BitConverter.TryWriteBytes(buffer[24..], (uint)endPoint.Address.ScopeId);
        return 28;
    }

    /// <summary>The endpoint a kernel-filled sockaddr names, or null for another family.</summary>
    public static IPEndPoint? Read(ReadOnlySpan<byte> buffer) => ReadPeer(buffer).ToEndPoint();

    /// <summary>The address a kernel-filled sockaddr names, kept inline (no objects); none for another family.</summary>
    public static PeerAddress ReadPeer(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length < 16) return default;
        var family = BitConverter.ToUInt16(buffer);
        var port = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        if (family == AF_INET) return PeerAddress.IPv4(buffer[4..8], port);
        if (family == AF_INET6 && buffer.Length >= 28) return PeerAddress.IPv6(buffer[8..24], BitConverter.ToUInt32(buffer[24..]), port);
        return default;
    }
}
