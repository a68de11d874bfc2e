using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>Finds the end of a message head (the first empty line) and enforces the line-ending and size limits on the way.</summary>
/// <remarks>
/// One pass of vectorised <c>IndexOf('\n')</c> per line. Every LF must follow a CR, so bare LF is rejected here and the
/// head parsers may assume CRLF line ends. Limits are checked on incomplete input too, so a peer that never sends the blank
/// line is refused once it passes them instead of being buffered without bound (pipelines rule 4).
/// </remarks>
internal static class HttpHeadScanner
{
    /// <summary>Locates a head in <paramref name="buffer"/> and copies it into <paramref name="block"/>'s buffer.</summary>
    /// <param name="headStart">Offset of the start line; requests may be preceded by empty lines (RFC 9112 §2.2).</param>
    /// <param name="headEnd">Offset just past the blank line; also the number of bytes to consume.</param>
    public static HttpParseStatus Locate(
        in ReadOnlySequence<byte> buffer, HttpHeaderBlock block, bool isRequest,
        out int headStart, out int headEnd, out int errorStatus, out string? errorReason)
    {
        var first = buffer.FirstSpan;
        if (first.Length > HttpLimits.MaxHeadBytes) first = first[..HttpLimits.MaxHeadBytes];

        var status = Scan(first, isRequest, out headStart, out headEnd, out errorStatus, out errorReason);
        if (status == HttpParseStatus.Complete)
        {
            first[..headEnd].CopyTo(block.PrepareBuffer(headEnd));
            return status;
        }
        // An error or an incomplete head within a prefix stands for the whole buffer.
        if (status == HttpParseStatus.Error || buffer.IsSingleSegment) return status;

        // Slow path: the head straddles segments. Copy what can belong to it (the copy is needed anyway) and rescan.
        int window = (int)Math.Min(buffer.Length, HttpLimits.MaxHeadBytes);
        var span = block.PrepareBuffer(window)[..window];
        buffer.Slice(0, window).CopyTo(span);
        return Scan(span, isRequest, out headStart, out headEnd, out errorStatus, out errorReason);
    }

    /// <summary>Scans a contiguous prefix of the input.</summary>
    public static HttpParseStatus Scan(
        ReadOnlySpan<byte> s, bool isRequest,
        out int headStart, out int headEnd, out int errorStatus, out string? errorReason)
    {
        headEnd = 0;
        errorStatus = 0;
        errorReason = null;
        int pos = 0;

        // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request-line. They count toward the head limit.
        if (isRequest)
        {
            while (pos + 1 < s.Length && s[pos] == '\r' && s[pos + 1] == '\n') pos += 2;
        }
        headStart = pos;

        int line = 0;
        while (true)
        {
            int rel = s[pos..].IndexOf((byte)'\n');
            if (rel < 0)
            {
                if (line == 0)
                {
                    if (s.Length - pos > HttpLimits.MaxStartLineBytes)
                        return Fail(isRequest ? 414 : 502, "Start line too long", out errorStatus, out errorReason);
                    if (isRequest && !IsPlausibleMethodPrefix(s[pos..]))
                        return Fail(400, "Invalid request method", out errorStatus, out errorReason);
                }
                if (s.Length >= HttpLimits.MaxHeadBytes)
                    return Fail(431, "Header section too large", out errorStatus, out errorReason);
                return HttpParseStatus.Incomplete;
            }

            int lf = pos + rel;
            if (rel == 0 || s[lf - 1] != '\r')
                return Fail(400, "Bare LF line ending", out errorStatus, out errorReason);
            if (line == 0 && rel - 1 > HttpLimits.MaxStartLineBytes)
                return Fail(isRequest ? 414 : 502, "Start line too long", out errorStatus, out errorReason);
            // An HTTP/0.9 request line (no version) waits for no further line: answer at once, not at the head timeout.
            if (line == 0 && isRequest && !HasTwoSpaces(s[pos..(lf - 1)]))
                return Fail(400, "Request line without HTTP version", out errorStatus, out errorReason);
            if (lf + 1 > HttpLimits.MaxHeadBytes)
                return Fail(431, "Header section too large", out errorStatus, out errorReason);

            if (rel == 1)
            {
                // Requests skipped leading empty lines above, so only a response can start with one.
                if (line == 0) return Fail(400, "Empty start line", out errorStatus, out errorReason);
                headEnd = lf + 1;
                return HttpParseStatus.Complete;
            }

            if (++line > HttpLimits.MaxHeaderCount + 1)
                return Fail(431, "Too many header fields", out errorStatus, out errorReason);
            pos = lf + 1;
        }
    }

    /// <summary>Rejects garbage (TLS on a plain port, binary) as soon as the method is known to be invalid, without waiting for a LF.</summary>
    private static bool IsPlausibleMethodPrefix(ReadOnlySpan<byte> partialLine)
    {
        int sp = partialLine.IndexOf((byte)' ');
        var method = sp < 0 ? partialLine : partialLine[..sp];
        if (sp == 0) return false;
        // A trailing CR may be the first half of a CRLF that has not arrived yet; the full parse judges it.
        if (sp < 0 && !method.IsEmpty && method[^1] == '\r') method = method[..^1];
        return method.IndexOfAnyExcept(HttpChars.TokenChars) < 0;
    }

    private static bool HasTwoSpaces(ReadOnlySpan<byte> line)
    {
        int sp = line.IndexOf((byte)' ');
        return sp >= 0 && line[(sp + 1)..].Contains((byte)' ');
    }

    private static HttpParseStatus Fail(int status, string reason, out int errorStatus, out string? errorReason)
    {
        errorStatus = status;
        errorReason = reason;
        return HttpParseStatus.Error;
    }
}
