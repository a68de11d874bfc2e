namespace FastLb.Core.Json;

/// <summary>
/// A resumable walk over HTTP/1.1 chunked framing (RFC 9112 §7.1) that hands out the chunk data runs in place, so a
/// chunked body prefix can be scanned without copying it. It checks the framing only as far as finding the data needs;
/// the proxy's own body parser still validates every byte it forwards.
/// </summary>
internal struct ChunkFraming
{
    private const int MaxSizeDigits = 15; // 16^15 bytes: far past any body, and no long overflow

    private enum State : byte
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        Done,
        Invalid,
    }

    private State _state;
    private long _remaining;
    private int _digits;

    /// <summary>The last chunk (size 0) was read: the body's data is complete (trailers are not walked).</summary>
    public readonly bool IsDone => _state == State.Done;

    public readonly bool IsInvalid => _state == State.Invalid;

    /// <summary>
    /// Walks framing bytes of <paramref name="span"/> from <paramref name="i"/> and returns the next run of chunk data
    /// (advancing past it); empty when the span ends first, or the framing ended or is invalid.
    /// </summary>
    public ReadOnlySpan<byte> NextData(ReadOnlySpan<byte> span, ref int i)
    {
        while (i < span.Length)
        {
            if (_state == State.Data)
            {
                int take = (int)Math.Min(_remaining, span.Length - i);
                var data = span.Slice(i, take);
                i += take;
                _remaining -= take;
                if (_remaining == 0) _state = State.DataCr;
                return data;
            }
            byte b = span[i];
            switch (_state)
            {
                case State.Size:
                    int digit = JsonModelScanner.HexValue(b);
                    if (digit >= 0)
                    {
                        if (++_digits > MaxSizeDigits) return Fail();
                        _remaining = (_remaining << 4) | (uint)digit;
                    }
                    else if (_digits == 0) return Fail();
                    else if (b == '\r') _state = State.SizeLf;
                    else if (b is (byte)';' or (byte)' ' or (byte)'\t') _state = State.Extension;
                    else return Fail();
                    break;
                case State.Extension:
                    if (b == '\r') _state = State.SizeLf;
                    else if (b < 0x20 && b != '\t') return Fail();
                    break;
                case State.SizeLf:
                    if (b != '\n') return Fail();
                    _state = _remaining == 0 ? State.Done : State.Data;
                    break;
                case State.DataCr:
                    if (b != '\r') return Fail();
                    _state = State.DataLf;
                    break;
                case State.DataLf:
                    if (b != '\n') return Fail();
                    _state = State.Size;
                    _digits = 0;
                    _remaining = 0;
                    break;
                default:
                    return default;
            }
            i++;
        }
        return default;
    }

    private ReadOnlySpan<byte> Fail()
    {
        _state = State.Invalid;
        return default;
    }
}
