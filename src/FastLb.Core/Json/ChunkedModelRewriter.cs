using System.Buffers;
using System.Globalization;

namespace FastLb.Core.Json;

/// <summary>
/// <see cref="ModelRewrite"/> for a body sent with chunked transfer coding (RFC 9112 §7.1): the raw value bytes are
/// replaced as in a Content-Length body, and the chunks that hold them are re-framed. The chunk where the value starts
/// gets its size changed by the difference; a chunk that holds a later part of the value shrinks by that part, and
/// one that held nothing else is left out whole (a size of 0 would end the body). Every other byte — chunk lines with
/// their extensions, data, the last chunk and trailers — goes out as the client sent it. Streaming and resumable at any
/// split of the input; nothing is buffered but a size line's digits, which are only written once the size is known.
/// </summary>
/// <remarks>Fed only bytes the proxy's chunked parser validated, in order; it walks the framing just enough to find chunk data.</remarks>
internal struct ChunkedModelRewriter(ModelRewrite rewrite)
{
    private enum State : byte
    {
        Size,
        Line,
        Data,
        DataEnd,
        Verbatim,
    }

    private readonly ModelRewrite _rewrite = rewrite;
    private State _state;
    private ChunkSizeDigits _digits;
    private int _digitCount;
    private long _size;      // the chunk being read: its size as the client framed it
    private long _remaining; // its data bytes still to come
    private long _decoded;   // decoded body offset of the next data byte
    private bool _emit;      // the chunk's framing goes out (false: it held only value bytes and is left out)
    private bool _replaced;  // the replacement went out
    private int _crlfLeft;

    /// <summary>Writes the next raw body bytes, <paramref name="piece"/>, to <paramref name="output"/> rewritten.</summary>
    public void Write(in ReadOnlySequence<byte> piece, IBufferWriter<byte> output)
    {
        foreach (var segment in piece) Write(segment.Span, output);
    }

    private void Write(ReadOnlySpan<byte> span, IBufferWriter<byte> output)
    {
        int i = 0;
        while (i < span.Length)
        {
            switch (_state)
            {
                case State.Verbatim:
                    output.Write(span[i..]);
                    return;
                case State.Size:
                    byte b = span[i];
                    if (JsonModelScanner.HexValue(b) >= 0 && _digitCount < 16)
                    {
                        _digits[_digitCount++] = b;
                        _size = (_size << 4) | (uint)JsonModelScanner.HexValue(b);
                        i++;
                    }
                    else
                    {
                        StartChunk(output); // the byte after the digits is the line's rest: written by Line
                    }
                    break;
                case State.Line:
                    int lf = span[i..].IndexOf((byte)'\n');
                    int end = lf < 0 ? span.Length : i + lf + 1;
                    if (_emit) output.Write(span[i..end]);
                    i = end;
                    if (lf >= 0)
                    {
                        _state = State.Data;
                        _remaining = _size;
                    }
                    break;
                case State.Data:
                    int take = (int)Math.Min(_remaining, span.Length - i);
                    WriteData(span.Slice(i, take), output);
                    i += take;
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        _state = State.DataEnd;
                        _crlfLeft = 2;
                    }
                    break;
                case State.DataEnd:
                    int crlf = Math.Min(_crlfLeft, span.Length - i);
                    if (_emit) output.Write(span.Slice(i, crlf));
                    i += crlf;
                    _crlfLeft -= crlf;
                    if (_crlfLeft == 0) NextChunk();
                    break;
            }
        }
    }

    /// <summary>The size line's digits are complete: writes them, or the re-framed size, and decides whether the chunk goes out.</summary>
    private void StartChunk(IBufferWriter<byte> output)
    {
        _state = State.Line;
        _emit = true;
        long valueStart = _rewrite.ValueOffset;
        long valueEnd = valueStart + _rewrite.ValueLength;
        long chunkEnd = _decoded + _size;
        long overlap = Math.Max(0, Math.Min(chunkEnd, valueEnd) - Math.Max(_decoded, valueStart));
        // The replacement goes into the chunk that holds the value's first byte (or, for an empty value, its closing quote).
        var holdsStart = _decoded <= valueStart && valueStart < chunkEnd;
        long size = _size - overlap + (holdsStart ? _rewrite.Replacement.Length : 0);
        if (_size == 0)
        {
            // The last chunk: with the value passed it, the trailers and the final CRLF go out as they came.
            output.Write(((ReadOnlySpan<byte>)_digits)[.._digitCount]);
            _state = State.Verbatim;
        }
        else if (size == _size)
        {
            output.Write(((ReadOnlySpan<byte>)_digits)[.._digitCount]);
        }
        else if (size == 0)
        {
            _emit = false;
        }
        else
        {
            Span<byte> hex = stackalloc byte[16];
            size.TryFormat(hex, out int written, "x", CultureInfo.InvariantCulture);
            output.Write(hex[..written]);
        }
    }

    /// <summary>Writes chunk data from decoded offset <see cref="_decoded"/>: the bytes around the value, the replacement in its place.</summary>
    private void WriteData(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        long start = _decoded;
        long end = start + data.Length;
        long valueStart = _rewrite.ValueOffset;
        long valueEnd = valueStart + _rewrite.ValueLength;
        if (start < valueStart) output.Write(data[..(int)Math.Min(data.Length, valueStart - start)]);
        if (start <= valueStart && valueStart < end)
        {
            output.Write(_rewrite.Replacement);
            _replaced = true;
        }
        if (end > valueEnd) output.Write(data[(int)Math.Max(0, valueEnd - start)..]);
        _decoded = end;
    }

    private void NextChunk()
    {
        _digitCount = 0;
        _size = 0;
        // Past the value: every later byte is the client's own.
        _state = _replaced && _decoded >= _rewrite.ValueOffset + _rewrite.ValueLength ? State.Verbatim : State.Size;
    }
}
