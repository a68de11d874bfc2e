using System.Buffers;

namespace FastLb.Core.Json;

/// <summary>
/// The one body rewrite FastLb does: the raw bytes of the top-level model string's value (between its quotes) are
/// replaced by another name, already JSON-escaped; every other byte is forwarded as it came. Applied piece by piece as
/// the body streams, so nothing is buffered, and the forwarded length changes by a known amount (Content-Length is fixed;
/// a chunked body is re-framed by <see cref="ChunkedModelRewriter"/>).
/// </summary>
internal readonly struct ModelRewrite(long valueOffset, int valueLength, byte[] replacement)
{
    /// <summary>Offset in the body of the first raw value byte (after the opening quote).</summary>
    public long ValueOffset { get; } = valueOffset;

    /// <summary>Raw (still escaped) length of the value the client sent.</summary>
    public int ValueLength { get; } = valueLength;

    /// <summary>The upstream model name as JSON string content (escaped, no quotes).</summary>
    public ReadOnlySpan<byte> Replacement => replacement;

    public bool IsNone => replacement is null;

    /// <summary>The forwarded body's length for a client body of <paramref name="length"/> bytes.</summary>
    public long RewrittenLength(long length) => length - ValueLength + replacement.Length;

    /// <summary>
    /// Writes <paramref name="piece"/>, the body bytes from offset <paramref name="pieceStart"/>, to <paramref name="output"/>
    /// with the model value replaced. Pieces must come in order; the replacement goes out with the piece that holds the
    /// value's first byte (or its closing quote, for an empty value).
    /// </summary>
    public void Write(in ReadOnlySequence<byte> piece, long pieceStart, IBufferWriter<byte> output)
    {
        long pieceEnd = pieceStart + piece.Length;
        long valueEnd = ValueOffset + ValueLength;
        if (pieceEnd <= ValueOffset || pieceStart >= valueEnd && !(pieceStart == ValueOffset && ValueLength == 0))
        {
            WriteAll(piece, output);
            return;
        }
        if (pieceStart <= ValueOffset)
        {
            WriteAll(piece.Slice(0, ValueOffset - pieceStart), output);
            output.Write(replacement);
        }
        if (pieceEnd > valueEnd) WriteAll(piece.Slice(valueEnd - pieceStart), output);
    }

    private static void WriteAll(in ReadOnlySequence<byte> bytes, IBufferWriter<byte> output)
    {
        foreach (var segment in bytes) output.Write(segment.Span);
    }
}
