using System.Buffers;
using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>Strict HTTP/1.1 request head parser (RFC 9112 §2–§6; docs/http-conformance.md); allocates nothing in steady state.</summary>
/// <remarks>
/// Errors are returned, not thrown: malformed input is routine for an edge proxy and exceptions would make floods expensive.
/// After an error the caller answers <see cref="HttpRequestHead.ErrorStatusCode"/> and closes; nothing after the bad head is parsed.
/// </remarks>
internal static class HttpRequestParser
{
    /// <summary>Parses the request head at the start of <paramref name="buffer"/> into <paramref name="head"/>.</summary>
    /// <param name="consumed">After the blank line when Complete; the buffer start otherwise.</param>
    /// <param name="examined">The buffer end when Incomplete (wait for more data); equal to consumed otherwise.</param>
    public static HttpParseStatus Parse(
        in ReadOnlySequence<byte> buffer, HttpRequestHead head,
        out SequencePosition consumed, out SequencePosition examined)
    {
        head.Reset();
        consumed = buffer.Start;
        examined = buffer.End;

        var status = HttpHeadScanner.Locate(
            buffer, head.Block, isRequest: true, out int headStart, out int headEnd, out int errorStatus, out string? reason);
        if (status == HttpParseStatus.Incomplete) return status;
        examined = buffer.Start;
        if (status == HttpParseStatus.Error) return Fail(head, errorStatus, reason!);

        status = ParseHead(head, headStart, headEnd);
        if (status == HttpParseStatus.Complete)
        {
            head.HeadLength = headEnd;
            consumed = examined = buffer.GetPosition(headEnd);
        }
        return status;
    }

    private static HttpParseStatus ParseHead(HttpRequestHead head, int headStart, int headEnd)
    {
        var block = head.Block;
        var bytes = block.Bytes;
        int lineEnd = headStart + bytes[headStart..headEnd].IndexOf((byte)'\r');
        var status = ParseRequestLine(head, bytes, headStart, lineEnd);
        if (status != HttpParseStatus.Complete) return status;

        // The fields run from after the request line's CRLF up to the blank line's CR.
        if (!block.ParseFieldLines(lineEnd + 2, headEnd - 2, out string? reason)) return Fail(head, 400, reason!);
        return ApplyFieldSemantics(head);
    }

    private static HttpParseStatus ParseRequestLine(HttpRequestHead head, ReadOnlySpan<byte> bytes, int start, int end)
    {
        var line = bytes[start..end];

        // method SP request-target SP HTTP-version, with exactly one space each (RFC 9112 §3).
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0 || line[..sp1].IndexOfAnyExcept(HttpChars.TokenChars) >= 0)
            return Fail(head, 400, "Invalid request method");
        var method = line[..sp1];
        head.MethodRange = new ByteRange(start, sp1);
        head.Method = ClassifyMethod(method);

        var afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 <= 0) return Fail(head, 400, sp2 == 0 ? "Extra space in request line" : "Missing HTTP version");
        var target = afterMethod[..sp2];
        // Visible ASCII only; '#' starts a fragment, which never belongs in a request-target.
        if (target.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0 || target.IndexOf((byte)'#') >= 0)
            return Fail(head, 400, "Invalid request target");
        int targetStart = start + sp1 + 1;
        head.TargetRange = new ByteRange(targetStart, sp2);

        var version = afterMethod[(sp2 + 1)..];
        if (version.SequenceEqual("HTTP/1.1"u8)) head.Version = HttpProtocolVersion.Http11;
        else if (version.SequenceEqual("HTTP/1.0"u8)) head.Version = HttpProtocolVersion.Http10;
        else if (IsWellFormedVersion(version)) return Fail(head, 505, "HTTP version not supported");
        else return Fail(head, 400, "Invalid HTTP version");

        // We never tunnel, so CONNECT is refused before its authority-form target is even looked at.
        if (head.Method == HttpMethodKind.Connect) return Fail(head, 405, "CONNECT not allowed");

        if (target[0] == '/')
        {
            head.TargetForm = RequestTargetForm.Origin;
            head.PathAndQueryRange = head.TargetRange;
            return HttpParseStatus.Complete;
        }
        if (target.Length == 1 && target[0] == '*')
        {
            if (head.Method != HttpMethodKind.Options) return Fail(head, 400, "Asterisk target without OPTIONS");
            head.TargetForm = RequestTargetForm.Asterisk;
            return HttpParseStatus.Complete;
        }

        int schemeLength;
        if (target.Length > 7 && Ascii.EqualsIgnoreCase(target[..7], "http://"u8)) schemeLength = 7;
        else if (target.Length > 8 && Ascii.EqualsIgnoreCase(target[..8], "https://"u8)) schemeLength = 8;
        else return Fail(head, 400, "Invalid request target form");

        var afterScheme = target[schemeLength..];
        int authorityLength = afterScheme.IndexOfAny((byte)'/', (byte)'?');
        if (authorityLength < 0) authorityLength = afterScheme.Length;
        var authority = afterScheme[..authorityLength];
        if (!HttpChars.IsValidAuthority(authority, allowEmpty: false)) return Fail(head, 400, "Invalid target authority");

        int authorityStart = targetStart + schemeLength;
        head.TargetForm = RequestTargetForm.Absolute;
        head.AuthorityRange = new ByteRange(authorityStart, authorityLength);
        head.PathAndQueryRange = new ByteRange(authorityStart + authorityLength, afterScheme.Length - authorityLength);
        return HttpParseStatus.Complete;
    }

    private static HttpParseStatus ApplyFieldSemantics(HttpRequestHead head)
    {
        var block = head.Block;
        long contentLength = -1;
        bool transferEncoding = false;
        int count = block.Count;
        for (int i = 0; i < count; i++)
        {
            var entry = block.GetEntry(i);
            switch (entry.Known)
            {
                case KnownHeader.Host:
                    if (head.HostIndex >= 0) return Fail(head, 400, "Multiple Host fields");
                    head.HostIndex = i;
                    break;
                case KnownHeader.ContentLength:
                    if (!HttpChars.TryParseContentLength(block[entry.Value], ref contentLength))
                        return Fail(head, 400, "Invalid Content-Length");
                    break;
                case KnownHeader.TransferEncoding:
                    // Only a single, bare "chunked" is unambiguous; every other coding or list is a smuggling risk.
                    if (transferEncoding) return Fail(head, 400, "Multiple Transfer-Encoding fields");
                    if (!Ascii.EqualsIgnoreCase(block[entry.Value], "chunked"u8))
                        return Fail(head, 400, "Unsupported Transfer-Encoding");
                    transferEncoding = true;
                    break;
                case KnownHeader.Connection:
                    if (!block.AddConnectionTokens(entry.Value)) return Fail(head, 400, "Invalid Connection");
                    break;
                case KnownHeader.Upgrade:
                    if (head.UpgradeIndex >= 0) return Fail(head, 400, "Multiple Upgrade fields");
                    head.UpgradeIndex = i;
                    break;
                case KnownHeader.Expect:
                    if (Ascii.EqualsIgnoreCase(block[entry.Value], "100-continue"u8)) head.ExpectContinue = true;
                    break;
            }
        }

        if (transferEncoding)
        {
            if (contentLength >= 0) return Fail(head, 400, "Both Content-Length and Transfer-Encoding");
            // RFC 9112 §6.1: an HTTP/1.0 recipient cannot know chunked, so the framing is not trustworthy.
            if (head.Version == HttpProtocolVersion.Http10) return Fail(head, 400, "Transfer-Encoding in HTTP/1.0");
            head.Framing = BodyFraming.Chunked;
        }
        else if (contentLength >= 0)
        {
            head.Framing = BodyFraming.ContentLength;
            head.ContentLength = contentLength;
        }

        if (head.HostIndex < 0)
        {
            if (head.Version == HttpProtocolVersion.Http11) return Fail(head, 400, "Missing Host");
        }
        else if (!HttpChars.IsValidAuthority(block.GetValue(head.HostIndex), allowEmpty: true))
        {
            return Fail(head, 400, "Invalid Host");
        }
        else if (block.GetValue(head.HostIndex).IsEmpty && head.TargetForm != RequestTargetForm.Absolute)
        {
            // RFC 9112 §3.2: an http(s) target always has an authority, so only an absolute-form target may omit it here.
            return Fail(head, 400, "Empty Host");
        }
        return HttpParseStatus.Complete;
    }

    /// <summary>HTTP-version syntax (RFC 9112 §2.3) with another number: answer 505 rather than 400.</summary>
    private static bool IsWellFormedVersion(ReadOnlySpan<byte> v) =>
        v.Length == 8 && v.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)v[5]) && v[6] == '.' && char.IsAsciiDigit((char)v[7]);

    private static HttpMethodKind ClassifyMethod(ReadOnlySpan<byte> m)
    {
        // Methods are case-sensitive (RFC 9110 §9.1), so plain byte comparison is correct.
        switch (m.Length)
        {
            case 3:
                if (m.SequenceEqual("GET"u8)) return HttpMethodKind.Get;
                if (m.SequenceEqual("PUT"u8)) return HttpMethodKind.Put;
                break;
            case 4:
                if (m.SequenceEqual("POST"u8)) return HttpMethodKind.Post;
                if (m.SequenceEqual("HEAD"u8)) return HttpMethodKind.Head;
                break;
            case 5:
                if (m.SequenceEqual("PATCH"u8)) return HttpMethodKind.Patch;
                if (m.SequenceEqual("TRACE"u8)) return HttpMethodKind.Trace;
                break;
            case 6:
                if (m.SequenceEqual("DELETE"u8)) return HttpMethodKind.Delete;
                break;
            case 7:
                if (m.SequenceEqual("OPTIONS"u8)) return HttpMethodKind.Options;
                if (m.SequenceEqual("CONNECT"u8)) return HttpMethodKind.Connect;
                break;
        }
        return HttpMethodKind.Custom;
    }

    private static HttpParseStatus Fail(HttpRequestHead head, int status, string reason)
    {
        head.ErrorStatusCode = status;
        head.ErrorReason = reason;
        return HttpParseStatus.Error;
    }
}
