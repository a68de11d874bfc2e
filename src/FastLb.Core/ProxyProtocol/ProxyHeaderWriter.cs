using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastLb.Core.ProxyProtocol;

/// <summary>Writes the PROXY protocol header FastLb sends to a backend ahead of a client's bytes.</summary>
internal static class ProxyHeaderWriter
{
    /// <summary>Room enough for either version's header.</summary>
    public const int MaxLength = ProxyHeaderParser.MaxV1Length;

    /// <summary>
    /// Writes a version <paramref name="version"/> header naming <paramref name="source"/> → <paramref name="destination"/>;
    /// returns its length. Mixed families (an IPv4 client on a dual-stack socket) are both written as IPv6; no
    /// addresses at all give v1 UNKNOWN / v2 LOCAL.
    /// </summary>
    public static int Write(Span<byte> buffer, int version, IPEndPoint? source, IPEndPoint? destination)
    {
        if (source is null || destination is null) return version == 1 ? WriteV1Unknown(buffer) : WriteV2Local(buffer);
        var src = source.Address;
        var dst = destination.Address;
        if (src.IsIPv4MappedToIPv6) src = src.MapToIPv4();
        if (dst.IsIPv4MappedToIPv6) dst = dst.MapToIPv4();
        if (src.AddressFamily != dst.AddressFamily)
        {
            src = src.MapToIPv6();
            dst = dst.MapToIPv6();
        }
        return version == 1
            ? WriteV1(buffer, src, source.Port, dst, destination.Port)
            : WriteV2(buffer, src, source.Port, dst, destination.Port);
    }

    private static int WriteV1(Span<byte> buffer, IPAddress src, int srcPort, IPAddress dst, int dstPort)
    {
        var n = 0;
        Append(buffer, ref n, src.AddressFamily == AddressFamily.InterNetwork ? "PROXY TCP4 "u8 : "PROXY TCP6 "u8);
        n += WriteAddress(buffer[n..], src);
        buffer[n++] = (byte)' ';
        n += WriteAddress(buffer[n..], dst);
        buffer[n++] = (byte)' ';
        srcPort.TryFormat(buffer[n..], out var w);
        n += w;
        buffer[n++] = (byte)' ';
        dstPort.TryFormat(buffer[n..], out w);
        n += w;
        Append(buffer, ref n, "\r\n"u8);
        return n;
    }

    private static int WriteAddress(Span<byte> buffer, IPAddress address)
    {
        address.TryFormat(buffer, out var length);
        return length;
    }

    private static int WriteV1Unknown(Span<byte> buffer)
    {
        "PROXY UNKNOWN\r\n"u8.CopyTo(buffer);
        return 15;
    }

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static int WriteV2(Span<byte> buffer, IPAddress src, int srcPort, IPAddress dst, int dstPort)
    {
        V2Signature.CopyTo(buffer);
        buffer[12] = 0x21; // version 2, PROXY
        var v4 = src.AddressFamily == AddressFamily.InterNetwork;
        buffer[13] = v4 ? (byte)0x11 : (byte)0x21; // INET or INET6, STREAM
        var size = v4 ? 4 : 16;
        BinaryPrimitives.WriteUInt16BigEndian(buffer[14..], (ushort)(size * 2 + 4));
        src.TryWriteBytes(buffer[16..], out _);
        dst.TryWriteBytes(buffer[(16 + size)..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(16 + size * 2)..], (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(18 + size * 2)..], (ushort)dstPort);
        return 16 + size * 2 + 4;
    }

    private static int WriteV2Local(Span<byte> buffer)
    {
        V2Signature.CopyTo(buffer);
        buffer[12] = 0x20; // version 2, LOCAL
        buffer[13] = 0x00;
        buffer[14] = 0;
        buffer[15] = 0;
        return 16;
    }

    private static void Append(Span<byte> buffer, ref int n, ReadOnlySpan<byte> text)
    {
        text.CopyTo(buffer[n..]);
        n += text.Length;
    }
}
