using System.Buffers;
using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>Strict HTTP/1.1 response head parser with RFC 9112 §6.3 framing; every error maps to 502 for the client.</summary>
internal static class HttpResponseParser
{
    private const int BadGateway = 502;

    /// <summary>Parses the response head at the start of <paramref name="buffer"/>; <paramref name="requestMethod"/> decides HEAD framing.</summary>
    public static HttpParseStatus Parse(
        in ReadOnlySequence<byte> buffer, HttpMethodKind requestMethod, HttpResponseHead head,
        out SequencePosition consumed, out SequencePosition examined)
    {
        head.Reset();
        consumed = buffer.Start;
        examined = buffer.End;

        var status = HttpHeadScanner.Locate(
            buffer, head.Block, isRequest: false, out int headStart, out int headEnd, out _, out string? reason);
        if (status == HttpParseStatus.Incomplete) return status;
        examined = buffer.Start;
        if (status == HttpParseStatus.Error) return Fail(head, reason!);

        var bytes = head.Block.Bytes;
        int lineEnd = headStart + bytes[headStart..headEnd].IndexOf((byte)'\r');
        status = ParseStatusLine(head, bytes, headStart, lineEnd);
        if (status != HttpParseStatus.Complete) return status;
        if (!head.Block.ParseFieldLines(lineEnd + 2, headEnd - 2, out reason)) return Fail(head, reason!);
        status = ApplyFieldSemantics(head, requestMethod);
        if (status == HttpParseStatus.Complete)
        {
            head.HeadLength = headEnd;
            consumed = examined = buffer.GetPosition(headEnd);
        }
        return status;
    }

    private static HttpParseStatus ParseStatusLine(HttpResponseHead head, ReadOnlySpan<byte> bytes, int start, int end)
    {
        // HTTP-version SP 3DIGIT SP [reason]; a missing final SP is tolerated because many servers omit it.
        var line = bytes[start..end];
        if (line.Length < 12 || line[8] != ' ') return Fail(head, "Invalid status line");
        var version = line[..8];
        if (version.SequenceEqual("HTTP/1.1"u8)) head.Version = HttpProtocolVersion.Http11;
        else if (version.SequenceEqual("HTTP/1.0"u8)) head.Version = HttpProtocolVersion.Http10;
        else return Fail(head, "Unsupported HTTP version");

        int code = 0;
        for (int i = 9; i < 12; i++)
        {
            uint d = (uint)(line[i] - '0');
            if (d > 9) return Fail(head, "Invalid status code");
            code = code * 10 + (int)d;
        }
        if (code < 100 || code > 599) return Fail(head, "Invalid status code");
        head.StatusCode = code;

        if (line.Length > 12)
        {
            if (line[12] != ' ') return Fail(head, "Invalid status line");
            var reason = line[13..];
            if (reason.IndexOfAny(HttpChars.InvalidFieldChars) >= 0) return Fail(head, "Invalid reason phrase");
            head.ReasonRange = new ByteRange(start + 13, reason.Length);
        }
        return HttpParseStatus.Complete;
    }

    private static HttpParseStatus ApplyFieldSemantics(HttpResponseHead head, HttpMethodKind requestMethod)
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
                case KnownHeader.ContentLength:
                    if (!HttpChars.TryParseContentLength(block[entry.Value], ref contentLength))
                        return Fail(head, "Invalid Content-Length");
                    break;
                case KnownHeader.TransferEncoding:
                    // A coding we would forward without chunked re-framing (gzip, lists) could desync the client; refuse it.
                    if (transferEncoding) return Fail(head, "Multiple Transfer-Encoding fields");
                    if (!Ascii.EqualsIgnoreCase(block[entry.Value], "chunked"u8)) return Fail(head, "Unsupported Transfer-Encoding");
                    transferEncoding = true;
                    break;
                case KnownHeader.Connection:
                    if (!block.AddConnectionTokens(entry.Value)) return Fail(head, "Invalid Connection");
                    break;
                case KnownHeader.Upgrade:
                    if (head.UpgradeIndex < 0) head.UpgradeIndex = i;
                    break;
            }
        }

        head.HasChunkedTransferEncoding = transferEncoding;
        if (transferEncoding && contentLength >= 0)
        {
            // RFC 9112 §6.3 rule 3: TE overrides CL, and the connection must not be reused.
            head.HadConflictingLength = true;
            contentLength = -1;
        }
        head.ContentLength = contentLength;

        int code = head.StatusCode;
        if (requestMethod == HttpMethodKind.Head || code < 200 || code == 204 || code == 304)
            head.Framing = BodyFraming.None;
        else if (transferEncoding)
            head.Framing = BodyFraming.Chunked;
        else if (contentLength >= 0)
            head.Framing = BodyFraming.ContentLength;
        else
            head.Framing = BodyFraming.CloseDelimited;
        return HttpParseStatus.Complete;
    }

    private static HttpParseStatus Fail(HttpResponseHead head, string reason)
    {
        head.ErrorStatusCode = BadGateway;
        head.ErrorReason = reason;
        return HttpParseStatus.Error;
    }
}
