using System.Buffers.Binary;

namespace FastLb.Core.ProxyProtocol;

/// <summary>
/// Strict, bounded parser of the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) over the first
/// bytes of a connection. Allocation-free; O(header length). Anything the specification does not allow is
/// <see cref="ProxyParseStatus.Invalid"/>, and garbage is refused as soon as a byte shows it cannot become a header.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>A v1 header is at most 107 bytes, CRLF included (the specification's bound).</summary>
    public const int MaxV1Length = 107;

    /// <summary>A v2 header (16-byte preamble, addresses and TLVs) longer than this is refused.</summary>
    public const int MaxV2Length = 16 + 1024;

    /// <summary>The most bytes <see cref="TryParse"/> ever needs to see to decide.</summary>
    public const int MaxLength = MaxV2Length;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Parses the header at the start of <paramref name="data"/>. On <see cref="ProxyParseStatus.Complete"/>,
    /// <paramref name="consumed"/> is its length; the bytes after it are the client's own.
    /// </summary>
    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, ProxyVersions accepted, out ProxyHeader header, out int consumed)
    {
        header = default;
        consumed = 0;
        if (data.IsEmpty) return ProxyParseStatus.Incomplete;
        if (data[0] == V2Signature[0] && (accepted & ProxyVersions.V2) != 0) return ParseV2(data, ref header, out consumed);
        if (data[0] == V1Prefix[0] && (accepted & ProxyVersions.V1) != 0) return ParseV1(data, ref header, out consumed);
        return ProxyParseStatus.Invalid;
    }

    private static ProxyParseStatus ParseV1(ReadOnlySpan<byte> data, ref ProxyHeader header, out int consumed)
    {
        consumed = 0;
        var window = data[..Math.Min(data.Length, MaxV1Length)];
        var prefix = Math.Min(window.Length, V1Prefix.Length);
        if (!window[..prefix].SequenceEqual(V1Prefix[..prefix])) return ProxyParseStatus.Invalid;
        var lf = window.IndexOf((byte)'\n');
        if (lf < 0)
        {
            // Only printable ASCII and a final CR may precede the LF: binary garbage is refused before the bound.
            foreach (var b in window)
            {
                if (b is < 0x20 or > 0x7E && b != '\r') return ProxyParseStatus.Invalid;
            }
            var cr = window.IndexOf((byte)'\r');
            if (cr >= 0 && cr != window.Length - 1) return ProxyParseStatus.Invalid;
            return window.Length >= MaxV1Length ? ProxyParseStatus.Invalid : ProxyParseStatus.Incomplete;
        }
        if (lf < V1Prefix.Length + 1 || window[lf - 1] != '\r') return ProxyParseStatus.Invalid;
        var line = window[V1Prefix.Length..(lf - 1)];
        foreach (var b in line)
        {
            if (b is < 0x20 or > 0x7E) return ProxyParseStatus.Invalid;
        }

        header.Version = 1;
        if (line.StartsWith("UNKNOWN"u8) && (line.Length == 7 || line[7] == ' '))
        {
            // The sender does not know the addresses; whatever follows UNKNOWN is ignored, as the specification asks.
            header.Command = ProxyCommand.Local;
            consumed = lf + 1;
            return ProxyParseStatus.Complete;
        }
        byte length;
        if (line.StartsWith("TCP4 "u8)) length = 4;
        else if (line.StartsWith("TCP6 "u8)) length = 16;
        else return ProxyParseStatus.Invalid;
        line = line[5..];

        if (!NextField(ref line, out var source) || !NextField(ref line, out var destination)
            || !NextField(ref line, out var sourcePort) || line.IsEmpty || line.Contains((byte)' '))
        {
            return ProxyParseStatus.Invalid;
        }
        var ok = length == 4
            ? TryParseIPv4(source, header.Source) && TryParseIPv4(destination, header.Destination)
            : TryParseIPv6(source, header.Source) && TryParseIPv6(destination, header.Destination);
        if (!ok || !TryParsePort(sourcePort, out header.SourcePort) || !TryParsePort(line, out header.DestinationPort))
        {
            return ProxyParseStatus.Invalid;
        }
        header.Command = ProxyCommand.Proxy;
        header.AddressLength = length;
        consumed = lf + 1;
        return ProxyParseStatus.Complete;
    }

    private static ProxyParseStatus ParseV2(ReadOnlySpan<byte> data, ref ProxyHeader header, out int consumed)
    {
        consumed = 0;
        var prefix = Math.Min(data.Length, V2Signature.Length);
        if (!data[..prefix].SequenceEqual(V2Signature[..prefix])) return ProxyParseStatus.Invalid;
        if (data.Length < 13) return ProxyParseStatus.Incomplete;
        var versionCommand = data[12];
        if (versionCommand >> 4 != 2) return ProxyParseStatus.Invalid;
        var command = versionCommand & 0xF;
        if (command > 1) return ProxyParseStatus.Invalid;
        if (data.Length < 16) return ProxyParseStatus.Incomplete;
        var familyProtocol = data[13];
        int length = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        var total = 16 + length;
        if (total > MaxV2Length) return ProxyParseStatus.Invalid;
        if (data.Length < total) return ProxyParseStatus.Incomplete;
        var block = data[16..total];

        header.Version = 2;
        if (command == 0)
        {
            // LOCAL: the balancer's own connection (a health check); the block is skipped whatever it holds.
            header.Command = ProxyCommand.Local;
            consumed = total;
            return ProxyParseStatus.Complete;
        }

        var family = familyProtocol >> 4;
        var protocol = familyProtocol & 0xF;
        int addresses;
        switch (family)
        {
            case 0: // AF_UNSPEC: no addresses; the peer stays the client.
                if (protocol != 0) return ProxyParseStatus.Invalid;
                header.Command = ProxyCommand.Local;
                addresses = 0;
                break;
            case 1 or 2: // AF_INET, AF_INET6: source and destination address, then source and destination port
                if (protocol != 1) return ProxyParseStatus.Invalid; // only STREAM relays to a TCP listener
                var size = family == 1 ? (byte)4 : (byte)16;
                addresses = 2 * size + 4;
                if (block.Length < addresses) return ProxyParseStatus.Invalid;
                block[..size].CopyTo(header.Source);
                block[size..(2 * size)].CopyTo(header.Destination);
                header.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size)..]);
                header.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size + 2)..]);
                header.AddressLength = size;
                header.Command = ProxyCommand.Proxy;
                break;
            case 3: // AF_UNIX: a path is no client address; the peer stays the client.
                if (protocol is not (1 or 2)) return ProxyParseStatus.Invalid;
                if (block.Length < 216) return ProxyParseStatus.Invalid;
                header.Command = ProxyCommand.Local;
                addresses = 216;
                break;
            default:
                return ProxyParseStatus.Invalid;
        }

        // TLVs are skipped, but each must fit exactly: a length that runs past the block is a broken header.
        var tlvs = block[addresses..];
        while (!tlvs.IsEmpty)
        {
            if (tlvs.Length < 3) return ProxyParseStatus.Invalid;
            int tlvLength = BinaryPrimitives.ReadUInt16BigEndian(tlvs[1..]);
            if (tlvs.Length < 3 + tlvLength) return ProxyParseStatus.Invalid;
            tlvs = tlvs[(3 + tlvLength)..];
        }
        consumed = total;
        return ProxyParseStatus.Complete;
    }

    /// <summary>Takes the text up to the next single space; false when it is empty or there is no space.</summary>
    private static bool NextField(ref ReadOnlySpan<byte> line, out ReadOnlySpan<byte> field)
    {
        var space = line.IndexOf((byte)' ');
        field = space < 0 ? default : line[..space];
        line = space < 0 ? default : line[(space + 1)..];
        return space > 0;
    }

    /// <summary>0..65535 in decimal without leading zeros.</summary>
    private static bool TryParsePort(ReadOnlySpan<byte> text, out ushort port)
    {
        port = 0;
        if (text.IsEmpty || text.Length > 5 || (text[0] == '0' && text.Length > 1)) return false;
        var value = 0;
        foreach (var c in text)
        {
            if (c is < (byte)'0' or > (byte)'9') return false;
            value = value * 10 + (c - '0');
        }
        if (value > ushort.MaxValue) return false;
        port = (ushort)value;
        return true;
    }

    /// <summary>Dotted quad, four decimal octets without leading zeros (so "010" cannot mean octal).</summary>
    private static bool TryParseIPv4(ReadOnlySpan<byte> text, Span<byte> address)
    {
        for (var i = 0; i < 4; i++)
        {
            var dot = i < 3 ? text.IndexOf((byte)'.') : text.Length;
            if (dot <= 0 || dot > 3) return false;
            var octet = text[..dot];
            if (octet[0] == '0' && octet.Length > 1) return false;
            var value = 0;
            foreach (var c in octet)
            {
                if (c is < (byte)'0' or > (byte)'9') return false;
                value = value * 10 + (c - '0');
            }
            if (value > 255) return false;
            address[i] = (byte)value;
            text = i < 3 ? text[(dot + 1)..] : default;
        }
        return true;
    }

    /// <summary>RFC 4291 text form: eight hex groups, one "::" for a run of zero groups, an optional dotted IPv4 tail.</summary>
    private static bool TryParseIPv6(ReadOnlySpan<byte> text, Span<byte> address)
    {
        if (text.Length is < 2 or > 45) return false;
        Span<ushort> groups = stackalloc ushort[8];
        var count = 0;
        var gap = -1;
        var i = 0;
        if (text[0] == ':')
        {
            if (text[1] != ':') return false;
            gap = 0;
            i = 2;
            if (i == text.Length) goto Done; // "::"
        }
        while (true)
        {
            if (count == 8) return false;
            var start = i;
            var value = 0;
            while (i < text.Length && i - start < 5 && IsHex(text[i]))
            {
                value = value * 16 + HexValue(text[i]);
                i++;
            }
            if (i < text.Length && text[i] == '.')
            {
                // A trailing dotted IPv4 fills the last two groups.
                if (count > 6 || !TryParseIPv4(text[start..], address[12..])) return false;
                groups[count++] = (ushort)(address[12] << 8 | address[13]);
                groups[count++] = (ushort)(address[14] << 8 | address[15]);
                break;
            }
            var digits = i - start;
            if (digits is 0 or > 4) return false;
            groups[count++] = (ushort)value;
            if (i == text.Length) break;
            if (text[i] != ':') return false;
            i++;
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0) return false; // only one "::"
                gap = count;
                i++;
                if (i == text.Length) break;
            }
            else if (i == text.Length)
            {
                return false; // a trailing single ':'
            }
        }
    Done:
        if (gap < 0 ? count != 8 : count > 7) return false;
        Span<ushort> full = stackalloc ushort[8];
        full.Clear();
        if (gap < 0)
        {
            groups.CopyTo(full);
        }
        else
        {
            groups[..gap].CopyTo(full);
            groups[gap..count].CopyTo(full[(8 - (count - gap))..]);
        }
        for (var g = 0; g < 8; g++) BinaryPrimitives.WriteUInt16BigEndian(address[(g * 2)..], full[g]);
        return true;
    }

    private static bool IsHex(byte c) => c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
