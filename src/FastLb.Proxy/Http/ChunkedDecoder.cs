using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>Strips chunk framing from bytes <see cref="ChunkedBodyParser"/> already validated, for an HTTP/1.0 client (RFC 9112 §7.1.3).</summary>
/// <remarks>
/// An HTTP/1.0 recipient does not know chunked coding, so FastLb answers it with the decoded data, delimited by
/// closing the connection. Validation is the parser's job; this state machine only trusts the framing. Trailers are dropped.
/// </remarks>
internal sealed class ChunkedDecoder
{
    private enum State : byte
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerStart,
        TrailerLine,
        TrailerLf,
        FinalLf,
        Done,
    }

    private State _state;
    private long _remaining;

    public void Reset()
    {
        _state = State.Size;
        _remaining = 0;
    }

    /// <summary>Writes the chunk data found in <paramref name="validated"/> to <paramref name="output"/>.</summary>
    public void Decode(in ReadOnlySequence<byte> validated, IBufferWriter<byte> output)
    {
        foreach (var segment in validated) DecodeSpan(segment.Span, output);
    }

    private void DecodeSpan(ReadOnlySpan<byte> s, IBufferWriter<byte> output)
    {
        int i = 0;
        while (i < s.Length)
        {
            if (_state == State.Data)
            {
                int take = (int)Math.Min(_remaining, s.Length - i);
                output.Write(s.Slice(i, take));
                i += take;
                _remaining -= take;
                if (_remaining == 0) _state = State.DataCr;
                continue;
            }
            byte b = s[i++];
            switch (_state)
            {
                case State.Size:
                    int digit = HexValue(b);
                    if (digit >= 0) _remaining = (_remaining << 4) | (uint)digit;
                    else _state = b == '\r' ? State.SizeLf : State.Extension;
                    break;
                case State.Extension:
                    if (b == '\r') _state = State.SizeLf;
                    break;
                case State.SizeLf:
                    _state = _remaining == 0 ? State.TrailerStart : State.Data;
                    break;
                case State.DataCr:
                    _state = State.DataLf;
                    break;
                case State.DataLf:
                    _state = State.Size;
                    break;
                case State.TrailerStart:
                    _state = b == '\r' ? State.FinalLf : State.TrailerLine;
                    break;
                case State.TrailerLine:
                    if (b == '\r') _state = State.TrailerLf;
                    break;
                case State.TrailerLf:
                    _state = State.TrailerStart;
                    break;
                case State.FinalLf:
                    _state = State.Done;
                    break;
                case State.Done:
                    return;
            }
        }
    }

    private static int HexValue(byte b)
    {
        uint d = (uint)(b - '0');
        if (d <= 9) return (int)d;
        uint l = (uint)((b | 0x20) - 'a');
        return l <= 5 ? (int)l + 10 : -1;
    }
}
