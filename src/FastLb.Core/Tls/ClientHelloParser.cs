using System.Buffers.Binary;

namespace FastLb.Core.Tls;

/// <summary>
/// Reads the server name (SNI, RFC 6066) from a TLS ClientHello without terminating TLS: the record layer (RFC 8446
/// §5.1), the handshake header, then the ClientHello's fields up to its extensions. Strict and bounded: a ClientHello
/// may span several records (a client may fragment it) but its handshake message is at most
/// <see cref="MaxHandshakeLength"/> bytes. Allocation-free; O(bytes read).
/// </summary>
internal static class ClientHelloParser
{
    /// <summary>The largest ClientHello message accepted: one full record's worth (2^14).</summary>
    public const int MaxHandshakeLength = 16384;

    /// <summary>Bytes of TLS records needed at most to decide: the message plus some record headers around it.</summary>
    public const int MaxRecordBytes = MaxHandshakeLength + 4 + 5 * 64;

    /// <summary>The longest DNS name (RFC 1035), the most a server name may be.</summary>
    public const int MaxServerNameLength = 253;

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloType = 1;
    private const int RecordHeader = 5;

    /// <summary>
    /// Parses the ClientHello at the start of <paramref name="data"/> (records as received). On Complete,
    /// <paramref name="serverNameLength"/> bytes of <paramref name="serverName"/> hold the lowercased SNI host name (0
    /// when the client sent none). <paramref name="scratch"/> (≥ <see cref="MaxHandshakeLength"/> + 4 bytes) joins a
    /// message that spans records; a message in one record is read in place.
    /// </summary>
    public static ClientHelloStatus TryReadServerName(ReadOnlySpan<byte> data, Span<byte> scratch, Span<byte> serverName, out int serverNameLength)
    {
        serverNameLength = 0;
        var joined = 0;
        var offset = 0;
        while (true)
        {
            if (data.Length - offset < RecordHeader)
            {
                // Check what there is of the next record header, so garbage is refused at its first byte.
                if (offset < data.Length && data[offset] != HandshakeRecord) return ClientHelloStatus.Invalid;
                if (offset + 1 < data.Length && data[offset + 1] != 3) return ClientHelloStatus.Invalid;
                return offset >= MaxRecordBytes ? ClientHelloStatus.Invalid : ClientHelloStatus.Incomplete;
            }
            var header = data.Slice(offset, RecordHeader);
            if (header[0] != HandshakeRecord || header[1] != 3) return ClientHelloStatus.Invalid;
            int length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
            if (length is 0 or > MaxHandshakeLength) return ClientHelloStatus.Invalid;
            var available = Math.Min(length, data.Length - offset - RecordHeader);
            var fragment = data.Slice(offset + RecordHeader, available);

            if (joined == 0 && available == length && length >= 4 && 4 + ReadUInt24(fragment[1..]) <= length)
            {
                // The common case: the whole message is in the first record; parse it where it lies.
                if (4 + ReadUInt24(fragment[1..]) != length) return ClientHelloStatus.Invalid; // nothing may follow a ClientHello
                return ParseHandshake(fragment, serverName, out serverNameLength);
            }
            if (available < length)
            {
                // Only the message header of a partial record is looked at: refuse early what is not a ClientHello.
                if (joined == 0 && available >= 1 && fragment[0] != ClientHelloType) return ClientHelloStatus.Invalid;
                if (joined == 0 && available >= 4 && ReadUInt24(fragment[1..]) > MaxHandshakeLength) return ClientHelloStatus.Invalid;
                return ClientHelloStatus.Incomplete;
            }
            if (joined + length > scratch.Length) return ClientHelloStatus.Invalid;
            fragment.CopyTo(scratch[joined..]);
            joined += length;
            offset += RecordHeader + length;
            if (joined >= 4)
            {
                if (scratch[0] != ClientHelloType) return ClientHelloStatus.Invalid;
                var message = ReadUInt24(scratch[1..]);
                if (message > MaxHandshakeLength) return ClientHelloStatus.Invalid;
                if (joined > 4 + message) return ClientHelloStatus.Invalid; // another message after the ClientHello
                if (joined == 4 + message) return ParseHandshake(scratch[..joined], serverName, out serverNameLength);
            }
        }
    }

    /// <summary>Parses one whole handshake message that must be a ClientHello.</summary>
    private static ClientHelloStatus ParseHandshake(ReadOnlySpan<byte> message, Span<byte> serverName, out int serverNameLength)
    {
        serverNameLength = 0;
        if (message[0] != ClientHelloType) return ClientHelloStatus.Invalid;
        var body = message[4..];
        // legacy_version (2), random (32)
        if (body.Length < 35 || body[0] != 3) return ClientHelloStatus.Invalid;
        var rest = body[34..];
        // legacy_session_id <0..32>
        if (!TakeVector8(ref rest, out var sessionId) || sessionId.Length > 32) return ClientHelloStatus.Invalid;
        // cipher_suites <2..2^16-2>, two bytes each
        if (!TakeVector16(ref rest, out var suites) || suites.Length < 2 || (suites.Length & 1) != 0) return ClientHelloStatus.Invalid;
        // legacy_compression_methods <1..2^8-1>
        if (!TakeVector8(ref rest, out var compression) || compression.Length < 1) return ClientHelloStatus.Invalid;
        if (rest.IsEmpty) return ClientHelloStatus.Complete; // an old client without extensions: no SNI
        if (!TakeVector16(ref rest, out var extensions) || !rest.IsEmpty) return ClientHelloStatus.Invalid;

        var seen = false;
        while (!extensions.IsEmpty)
        {
            if (extensions.Length < 4) return ClientHelloStatus.Invalid;
            var type = BinaryPrimitives.ReadUInt16BigEndian(extensions);
            extensions = extensions[2..];
            if (!TakeVector16(ref extensions, out var extension)) return ClientHelloStatus.Invalid;
            if (type != 0) continue; // not server_name
            if (seen) return ClientHelloStatus.Invalid; // an extension may appear once (RFC 8446 §4.2)
            seen = true;
            if (!TakeVector16(ref extension, out var list) || !extension.IsEmpty || list.IsEmpty) return ClientHelloStatus.Invalid;
            while (!list.IsEmpty)
            {
                var nameType = list[0];
                list = list[1..];
                if (!TakeVector16(ref list, out var name)) return ClientHelloStatus.Invalid;
                if (nameType != 0) continue; // only host_name is defined
                if (serverNameLength != 0 || !IsHostName(name) || name.Length > serverName.Length) return ClientHelloStatus.Invalid;
                for (var i = 0; i < name.Length; i++) serverName[i] = (byte)(name[i] | (name[i] is >= (byte)'A' and <= (byte)'Z' ? 0x20 : 0));
                serverNameLength = name.Length;
            }
        }
        return ClientHelloStatus.Complete;
    }

    /// <summary>Letters, digits, '-', '_' and dots between non-empty labels, at most 253 bytes (no trailing dot, RFC 6066).</summary>
    private static bool IsHostName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > MaxServerNameLength || name[0] == '.' || name[^1] == '.') return false;
        var label = 0;
        foreach (var c in name)
        {
            if (c == '.')
            {
                if (label == 0) return false;
                label = 0;
                continue;
            }
            if (!(c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_')) return false;
            if (++label > 63) return false;
        }
        return true;
    }

    private static int ReadUInt24(ReadOnlySpan<byte> s) => s[0] << 16 | s[1] << 8 | s[2];

    private static bool TakeVector8(ref ReadOnlySpan<byte> s, out ReadOnlySpan<byte> vector)
    {
        vector = default;
        if (s.Length < 1 || s.Length < 1 + s[0]) return false;
        vector = s.Slice(1, s[0]);
        s = s[(1 + s[0])..];
        return true;
    }

    private static bool TakeVector16(ref ReadOnlySpan<byte> s, out ReadOnlySpan<byte> vector)
    {
        vector = default;
        if (s.Length < 2) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(s);
        if (s.Length < 2 + length) return false;
        vector = s.Slice(2, length);
        s = s[(2 + length)..];
        return true;
    }
}
