using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>Meters one message body of any framing so the proxy loop is the same for all of them.</summary>
/// <remarks>
/// Loop: <c>status = framer.Advance(result.Buffer, result.IsCompleted, out n)</c>; forward <c>buffer.Slice(0, n)</c>;
/// <c>AdvanceTo(buffer.GetPosition(n))</c>. While NeedMoreData, n is the whole buffer, so examined = end holds; a framer
/// that holds incomplete chunk lines (request bodies) may leave a tail unconsumed, so its loop passes examined = end.
/// </remarks>
internal sealed class HttpBodyFramer(bool holdIncompleteChunkLines = false)
{
    private readonly ChunkedBodyParser _chunked = new(holdIncompleteChunkLines);
    private BodyFraming _framing;
    private long _remaining;

    public BodyFraming Framing => _framing;

    /// <summary>Bytes of a Content-Length body not yet seen.</summary>
    public long Remaining => _remaining;

    public string? ErrorReason { get; private set; }

    public void Reset(BodyFraming framing, long contentLength)
    {
        _framing = framing;
        _remaining = framing == BodyFraming.ContentLength ? contentLength : 0;
        ErrorReason = null;
        if (framing == BodyFraming.Chunked) _chunked.Reset();
    }

    public void Reset(HttpRequestHead head) => Reset(head.Framing, head.ContentLength);

    public void Reset(HttpResponseHead head) => Reset(head.Framing, head.ContentLength);

    /// <summary>Reports how many leading bytes of <paramref name="buffer"/> belong to the body and may be forwarded verbatim.</summary>
    /// <param name="isCompleted">The peer finished sending; an unfinished Content-Length or chunked body is then truncated.</param>
    public BodyParseStatus Advance(in ReadOnlySequence<byte> buffer, bool isCompleted, out long forward)
    {
        switch (_framing)
        {
            case BodyFraming.ContentLength:
                forward = Math.Min(_remaining, buffer.Length);
                _remaining -= forward;
                if (_remaining == 0) return BodyParseStatus.Done;
                return isCompleted ? Fail("Connection closed before the body ended") : BodyParseStatus.NeedMoreData;

            case BodyFraming.Chunked:
                var status = _chunked.Parse(buffer, out forward);
                if (status == BodyParseStatus.Error) ErrorReason = _chunked.ErrorReason;
                else if (status == BodyParseStatus.NeedMoreData && isCompleted) return Fail("Connection closed inside a chunked body");
                return status;

            case BodyFraming.CloseDelimited:
                forward = buffer.Length;
                return isCompleted ? BodyParseStatus.Done : BodyParseStatus.NeedMoreData;

            default:
                forward = 0;
                return BodyParseStatus.Done;
        }
    }

    private BodyParseStatus Fail(string reason)
    {
        ErrorReason = reason;
        return BodyParseStatus.Error;
    }
}
