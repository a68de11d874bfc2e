using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>Incremental validator for chunked transfer coding (RFC 9112 §7.1); validated bytes are forwarded verbatim.</summary>
/// <remarks>
/// A byte-at-a-time state machine for the framing and a bulk skip for chunk data, so the cost is O(framing bytes) and
/// state survives any split of the input. By default every byte it accepts is final, which lets the proxy forward and
/// consume all of them without buffering partial chunk lines. When it holds incomplete lines (request bodies), only
/// chunk data and framing that validated up to the next chunk's data count as consumed: the CRLF after the data, the
/// next size line (extensions included) and the last chunk with its trailers are released together once they all
/// validated, so a peer never receives the first byte of a framing element the parser goes on to reject. The held
/// bytes are bounded (2 + <see cref="HttpLimits.MaxChunkLineBytes"/> + <see cref="HttpLimits.MaxTrailerBytes"/>), and
/// the caller presents them again with the next read, which re-parses them from the last data boundary.
/// </remarks>
internal sealed class ChunkedBodyParser(bool holdIncompleteLines = false)
{
    private enum State : byte
    {
        SizeStart,
        Size,
        SizeWhitespace,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerName,
        TrailerValue,
        TrailerLf,
        FinalLf,
        Done,
        Failed,
    }

    private State _state;
    private long _size;        // while reading a size line: the size so far; in Data: bytes left
    private int _digits;
    private int _lineBytes;    // chunk-size line length, bounded by MaxChunkLineBytes
    private int _trailerBytes; // trailer section length, bounded by MaxTrailerBytes

    // Holding mode: the state at the last data boundary and the input offset of that boundary within one Parse call.
    private State _markState;
    private long _markSize;
    private long _markConsumed;

    public bool IsDone => _state == State.Done;

    public string? ErrorReason { get; private set; }

    public void Reset()
    {
        _state = State.SizeStart;
        _size = 0;
        _digits = 0;
        _lineBytes = 0;
        _trailerBytes = 0;
        ErrorReason = null;
    }

    /// <summary>Validates <paramref name="buffer"/>; <paramref name="consumed"/> bytes may be forwarded and consumed.</summary>
    /// <returns>NeedMoreData: all bytes were valid; Done: the body ended after <paramref name="consumed"/> bytes; Error: abort.</returns>
    public BodyParseStatus Parse(in ReadOnlySequence<byte> buffer, out long consumed)
    {
        consumed = 0;
        if (holdIncompleteLines) Mark(0);
        BodyParseStatus status;
        if (buffer.IsSingleSegment)
        {
            status = ParseSpan(buffer.FirstSpan, ref consumed);
        }
        else
        {
            status = BodyParseStatus.NeedMoreData;
            foreach (var segment in buffer)
            {
                status = ParseSpan(segment.Span, ref consumed);
                if (status != BodyParseStatus.NeedMoreData) break;
            }
        }
        if (holdIncompleteLines && status == BodyParseStatus.NeedMoreData && _state != State.Data)
        {
            // Inside a framing element: release nothing of it; the next read presents it again from the mark.
            _state = _markState;
            _size = _markSize;
            _trailerBytes = 0;
            consumed = _markConsumed;
        }
        return status;
    }

    /// <summary>Records a data boundary: everything before <paramref name="offset"/> validated and may be released.</summary>
    private void Mark(long offset)
    {
        _markState = _state;
        _markSize = _size;
        _markConsumed = offset;
    }

    private BodyParseStatus ParseSpan(ReadOnlySpan<byte> s, ref long consumed)
    {
        if (_state == State.Done) return BodyParseStatus.Done;
        if (_state == State.Failed) return BodyParseStatus.Error;

        int i = 0;
        while (i < s.Length)
        {
            if (_state == State.Data)
            {
                int take = (int)Math.Min(_size, s.Length - i);
                i += take;
                _size -= take;
                if (holdIncompleteLines) Mark(consumed + i);
                if (_size == 0) _state = State.DataCr;
                continue;
            }

            byte b = s[i++];
            switch (_state)
            {
                case State.SizeStart:
                    int first = HexValue(b);
                    if (first < 0) return Fail("Invalid chunk size", ref consumed, i);
                    _size = first;
                    _digits = 1;
                    _lineBytes = 1;
                    _state = State.Size;
                    break;

                case State.Size:
                    if (++_lineBytes > HttpLimits.MaxChunkLineBytes) return Fail("Chunk size line too long", ref consumed, i);
                    int digit = HexValue(b);
                    if (digit >= 0)
                    {
                        // Both limits: 16 digits is the conformance bound; the shift check keeps the size a positive long.
                        if (++_digits > 16 || _size > (long.MaxValue >> 4)) return Fail("Chunk size too large", ref consumed, i);
                        _size = (_size << 4) | (uint)digit;
                    }
                    else if (b == '\r') _state = State.SizeLf;
                    else if (b == ';') _state = State.Extension;
                    else if (b == ' ' || b == '\t') _state = State.SizeWhitespace;
                    else return Fail("Invalid chunk size", ref consumed, i);
                    break;

                case State.SizeWhitespace:
                    // BWS is only allowed before an extension's ';' (RFC 9112 §7.1.1).
                    if (++_lineBytes > HttpLimits.MaxChunkLineBytes) return Fail("Chunk size line too long", ref consumed, i);
                    if (b == ';') _state = State.Extension;
                    else if (b != ' ' && b != '\t') return Fail("Invalid chunk size", ref consumed, i);
                    break;

                case State.Extension:
                    // Extensions are passed through unparsed, but CR/LF/CTLs inside them would let them hide framing.
                    if (++_lineBytes > HttpLimits.MaxChunkLineBytes) return Fail("Chunk size line too long", ref consumed, i);
                    if (b == '\r') _state = State.SizeLf;
                    else if (IsInvalidFieldByte(b)) return Fail("Invalid chunk extension", ref consumed, i);
                    break;

                case State.SizeLf:
                    if (b != '\n') return Fail("Bare CR in chunk size line", ref consumed, i);
                    _state = _size == 0 ? State.TrailerLineStart : State.Data;
                    if (holdIncompleteLines && _size != 0) Mark(consumed + i);
                    break;

                case State.DataCr:
                    if (b != '\r') return Fail("Chunk data longer than its size", ref consumed, i);
                    _state = State.DataLf;
                    break;

                case State.DataLf:
                    if (b != '\n') return Fail("Missing CRLF after chunk data", ref consumed, i);
                    _state = State.SizeStart;
                    break;

                case State.TrailerLineStart:
                    if (++_trailerBytes > HttpLimits.MaxTrailerBytes) return Fail("Trailer section too large", ref consumed, i);
                    if (b == '\r') _state = State.FinalLf;
                    else if (HttpChars.TokenChars.Contains(b)) _state = State.TrailerName;
                    else return Fail("Invalid trailer field", ref consumed, i);
                    break;

                case State.TrailerName:
                    if (++_trailerBytes > HttpLimits.MaxTrailerBytes) return Fail("Trailer section too large", ref consumed, i);
                    if (b == ':') _state = State.TrailerValue;
                    else if (!HttpChars.TokenChars.Contains(b)) return Fail("Invalid trailer field name", ref consumed, i);
                    break;

                case State.TrailerValue:
                    if (++_trailerBytes > HttpLimits.MaxTrailerBytes) return Fail("Trailer section too large", ref consumed, i);
                    if (b == '\r') _state = State.TrailerLf;
                    else if (IsInvalidFieldByte(b)) return Fail("Invalid trailer field value", ref consumed, i);
                    break;

                case State.TrailerLf:
                    if (b != '\n') return Fail("Bare CR in trailer section", ref consumed, i);
                    _trailerBytes++;
                    _state = State.TrailerLineStart;
                    break;

                case State.FinalLf:
                    if (b != '\n') return Fail("Bare CR after last chunk", ref consumed, i);
                    _state = State.Done;
                    consumed += i;
                    return BodyParseStatus.Done;
            }
        }
        consumed += s.Length;
        return BodyParseStatus.NeedMoreData;
    }

    private static int HexValue(byte b)
    {
        uint d = (uint)(b - '0');
        if (d <= 9) return (int)d;
        uint l = (uint)((b | 0x20) - 'a');
        return l <= 5 ? (int)l + 10 : -1;
    }

    private static bool IsInvalidFieldByte(byte b) => (b < 0x20 && b != '\t') || b == 0x7F;

    private BodyParseStatus Fail(string reason, ref long consumed, int index)
    {
        _state = State.Failed;
        ErrorReason = reason;
        consumed += index - 1;
        return BodyParseStatus.Error;
    }
}
