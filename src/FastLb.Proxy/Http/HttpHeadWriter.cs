using System.Buffers;
using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>Writes the head to forward for a parsed request or response, span-wise and without allocating.</summary>
/// <remarks>
/// Hop-by-hop fields (RFC 9110 §7.6.1) and every field named in Connection are dropped. Host, Content-Length and
/// Transfer-Encoding are always written from the parsed values rather than copied, so a client that names them in
/// Connection cannot make the forwarded framing differ from the framing FastLb parsed.
/// </remarks>
internal static class HttpHeadWriter
{
    public static void WriteRequestHead(IBufferWriter<byte> output, HttpRequestHead head, in RequestHeadOptions options)
    {
        var w = new HeadBufferWriter(output);
        w.Write(head.MethodBytes);
        w.Write((byte)' ');
        switch (head.TargetForm)
        {
            case RequestTargetForm.Absolute:
                // RFC 9112 §3.2.2: forward in origin-form; an empty path becomes "/".
                var pathAndQuery = head.PathAndQuery;
                if (pathAndQuery.IsEmpty || pathAndQuery[0] != '/') w.Write((byte)'/');
                w.Write(pathAndQuery);
                break;
            default:
                w.Write(head.Target);
                break;
        }
        w.Write(" HTTP/1.1\r\n"u8);

        var authority = head.Authority;
        w.WriteField("Host"u8, options.HostOverride.IsEmpty ? authority : options.HostOverride);

        bool checkNominated = head.ConnectionTokenCount > 0;
        bool trustForwarded = options.TrustForwarded;
        int count = head.HeaderCount;
        for (int i = 0; i < count; i++)
        {
            var known = head.GetKnownHeader(i);
            if (known is not (KnownHeader.Other or KnownHeader.Cookie or KnownHeader.Expect)) continue;
            var name = head.GetHeaderName(i);
            if (checkNominated && head.IsNominatedByConnection(name)) continue;
            if (!trustForwarded && IsClientAddressClaim(name)) continue;
            w.WriteField(name, head.GetHeaderValue(i));
        }

        var contentLength = options.RewrittenContentLength > 0 ? options.RewrittenContentLength : head.ContentLength;
        WriteFraming(ref w, head.Framing == BodyFraming.Chunked, head.Framing == BodyFraming.ContentLength ? contentLength : -1);

        if (options.AllowUpgrade && head.IsUpgradeRequest)
        {
            w.Write("Connection: upgrade\r\nUpgrade: "u8);
            WriteProtocolsExceptH2c(ref w, head.Upgrade);
            w.Write("\r\n"u8);
        }
        else if (options.ConnectionClose)
        {
            w.Write("Connection: close\r\n"u8);
        }

        WriteForwardedFor(ref w, head, options.ClientAddress, options.TrustForwarded);
        if (!options.Scheme.IsEmpty) w.WriteField("X-Forwarded-Proto"u8, options.Scheme);
        if (!authority.IsEmpty) w.WriteField("X-Forwarded-Host"u8, authority);
        w.Write("\r\n"u8);
        w.Flush();
    }

    public static void WriteResponseHead(IBufferWriter<byte> output, HttpResponseHead head, in ResponseHeadOptions options)
    {
        var w = new HeadBufferWriter(output);
        // FastLb speaks HTTP/1.1 to clients whatever the backend version (RFC 9110 §2.5).
        w.Write("HTTP/1.1 "u8);
        w.WriteDecimal(head.StatusCode);
        w.Write((byte)' ');
        w.Write(head.ReasonPhrase);
        w.Write("\r\n"u8);

        bool checkNominated = head.ConnectionTokenCount > 0;
        int count = head.HeaderCount;
        for (int i = 0; i < count; i++)
        {
            switch (head.GetKnownHeader(i))
            {
                case KnownHeader.ContentLength:
                case KnownHeader.TransferEncoding:
                case KnownHeader.Connection:
                case KnownHeader.KeepAlive:
                case KnownHeader.ProxyConnection:
                case KnownHeader.TE:
                case KnownHeader.Trailer:
                case KnownHeader.Upgrade:
                    continue;
            }
            var name = head.GetHeaderName(i);
            if (checkNominated && head.IsNominatedByConnection(name)) continue;
            w.WriteField(name, head.GetHeaderValue(i));
        }

        if (!options.ExtraFields.IsEmpty) w.Write(options.ExtraFields);

        // Kept for HEAD/204/304 too: there the fields describe the representation, not a body that follows.
        if (!options.OmitFraming) WriteFraming(ref w, head.HasChunkedTransferEncoding, head.ContentLength);

        if (options.AllowUpgrade && head.StatusCode == 101 && head.HasUpgrade)
        {
            w.Write("Connection: upgrade\r\n"u8);
            w.WriteField("Upgrade"u8, head.Upgrade);
        }
        else if (options.ConnectionClose)
        {
            w.Write("Connection: close\r\n"u8);
        }
        else if (options.ConnectionKeepAlive)
        {
            w.Write("Connection: keep-alive\r\n"u8);
        }
        w.Write("\r\n"u8);
        w.Flush();
    }

    private static void WriteFraming(ref HeadBufferWriter w, bool chunked, long contentLength)
    {
        if (chunked)
        {
            w.Write("Transfer-Encoding: chunked\r\n"u8);
        }
        else if (contentLength >= 0)
        {
            w.Write("Content-Length: "u8);
            w.WriteDecimal(contentLength);
            w.Write("\r\n"u8);
        }
    }

    /// <summary>Forwarded and X-Real-IP name a client as X-Forwarded-For does; only a trusted proxy may send them on.</summary>
    private static bool IsClientAddressClaim(ReadOnlySpan<byte> name) =>
        name.Length == 9 && (Ascii.EqualsIgnoreCase(name, "Forwarded"u8) || Ascii.EqualsIgnoreCase(name, "X-Real-IP"u8));

    /// <summary>
    /// One X-Forwarded-For line: from a trusted proxy the incoming values (unless named in Connection) then the peer
    /// address; from anyone else the peer address alone, so a client cannot choose the address a backend sees.
    /// </summary>
    private static void WriteForwardedFor(ref HeadBufferWriter w, HttpRequestHead head, ReadOnlySpan<byte> clientAddress, bool trusted)
    {
        bool keepIncoming = trusted && !head.IsNominatedByConnection("X-Forwarded-For"u8);
        bool started = false;
        if (keepIncoming)
        {
            int count = head.HeaderCount;
            for (int i = 0; i < count; i++)
            {
                if (head.GetKnownHeader(i) != KnownHeader.XForwardedFor) continue;
                var value = head.GetHeaderValue(i);
                if (value.IsEmpty) continue;
                w.Write(started ? ", "u8 : "X-Forwarded-For: "u8);
                w.Write(value);
                started = true;
            }
        }
        if (!clientAddress.IsEmpty)
        {
            w.Write(started ? ", "u8 : "X-Forwarded-For: "u8);
            w.Write(clientAddress);
            started = true;
        }
        if (started) w.Write("\r\n"u8);
    }

    private static void WriteProtocolsExceptH2c(ref HeadBufferWriter w, ReadOnlySpan<byte> list)
    {
        bool first = true;
        while (true)
        {
            int comma = list.IndexOf((byte)',');
            var item = HttpChars.TrimOws(comma < 0 ? list : list[..comma]);
            if (!item.IsEmpty && !Ascii.EqualsIgnoreCase(item, "h2c"u8))
            {
                if (!first) w.Write(", "u8);
                w.Write(item);
                first = false;
            }
            if (comma < 0) return;
            list = list[(comma + 1)..];
        }
    }
}
