using System.Buffers;

namespace FastLb.Core.Json;

/// <summary>
/// Forward-only, allocation-free scanner that finds the top-level <c>"model"</c> string of a JSON object in a body
/// prefix, O(bytes scanned). It tracks only what routing needs: object/array nesting, strings with every escape
/// (keys are compared after unescaping, so <c>"\u006dodel"</c> is the model key), and the raw byte range of the model
/// value. It never builds a document and checks the grammar of nested numbers and literals no further than a backend
/// would need to reject them itself. The scan stops at the end of the top-level object so a second top-level
/// <c>"model"</c> (which JSON parsers resolve differently: most take the last) is refused rather than guessed.
/// </summary>
internal static class JsonModelScanner
{
    /// <summary>The default bound on body bytes examined (64 KiB).</summary>
    public const int DefaultMaxBodyPeek = 64 * 1024;

    /// <summary>Nesting deeper than this is refused (the scanner keeps one bit per level).</summary>
    public const int MaxDepth = 64;

    private static readonly SearchValues<byte> StringStops = SearchValues.Create("\"\\"u8);
    private static readonly SearchValues<byte> NestedStops = SearchValues.Create("\"{}[]"u8);

    /// <summary>
    /// Scans at most <paramref name="maxPeek"/> bytes of <paramref name="body"/>. <paramref name="bodyComplete"/> says
    /// the sequence holds the whole body, so an unfinished object is truncated rather than waiting for more.
    /// </summary>
    public static ModelScanResult Scan(in ReadOnlySequence<byte> body, int maxPeek, bool bodyComplete)
    {
        var state = new ScanState();
        long limit = Math.Min(body.Length, maxPeek);
        long offset = 0;
        bool decided = false;
        foreach (var memory in body)
        {
            if (offset >= limit) break;
            var span = memory.Span;
            if (span.Length > limit - offset) span = span[..(int)(limit - offset)];
            if (state.Feed(span, offset))
            {
                decided = true;
                break;
            }
            offset += span.Length;
        }
        if (decided || state.Phase == ScanPhase.Invalid) return state.Result();
        if (bodyComplete && body.Length <= maxPeek) return ModelScanResult.Of(ModelScanStatus.Invalid);
        if (body.Length >= maxPeek) return state.ResultAtPeekLimit();
        return ModelScanResult.Of(ModelScanStatus.NeedMore);
    }

    /// <summary>
    /// Writes the model name (escapes decoded, UTF-8) into <paramref name="destination"/>. False when it does not fit
    /// or holds a lone surrogate escape.
    /// </summary>
    public static bool TryDecodeValue(in ReadOnlySequence<byte> body, in ModelScanResult scan, Span<byte> destination, out int written)
    {
        written = 0;
        if (scan.Status != ModelScanStatus.Found) return false;
        var raw = body.Slice(scan.ValueOffset, scan.ValueLength);
        if (!scan.ValueHasEscapes)
        {
            if (raw.Length > destination.Length) return false;
            raw.CopyTo(destination);
            written = (int)raw.Length;
            return true;
        }
        var reader = new SequenceReader<byte>(raw);
        while (reader.TryRead(out byte b))
        {
            if (b != '\\')
            {
                if (written == destination.Length) return false;
                destination[written++] = b;
                continue;
            }
            // The scanner validated every escape, so the reads below cannot run short.
            reader.TryRead(out byte kind);
            int codePoint;
            if (kind != 'u')
            {
                codePoint = Unescape(kind);
            }
            else
            {
                codePoint = ReadHex4(ref reader);
                if (codePoint is >= 0xDC00 and <= 0xDFFF) return false;
                if (codePoint is >= 0xD800 and <= 0xDBFF)
                {
                    if (!reader.IsNext("\\u"u8, advancePast: true)) return false;
                    int low = ReadHex4(ref reader);
                    if (low is < 0xDC00 or > 0xDFFF) return false;
                    codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00);
                }
            }
            if (!TryWriteUtf8(codePoint, destination, ref written)) return false;
        }
        return true;
    }

    private static int ReadHex4(ref SequenceReader<byte> reader)
    {
        int value = 0;
        for (int i = 0; i < 4; i++)
        {
            reader.TryRead(out byte h);
            value = (value << 4) | HexValue(h);
        }
        return value;
    }

    private static bool TryWriteUtf8(int codePoint, Span<byte> destination, ref int written)
    {
        int length = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
        if (destination.Length - written < length) return false;
        var d = destination[written..];
        switch (length)
        {
            case 1:
                d[0] = (byte)codePoint;
                break;
            case 2:
                d[0] = (byte)(0xC0 | (codePoint >> 6));
                d[1] = (byte)(0x80 | (codePoint & 0x3F));
                break;
            case 3:
                d[0] = (byte)(0xE0 | (codePoint >> 12));
                d[1] = (byte)(0x80 | ((codePoint >> 6) & 0x3F));
                d[2] = (byte)(0x80 | (codePoint & 0x3F));
                break;
            default:
                d[0] = (byte)(0xF0 | (codePoint >> 18));
                d[1] = (byte)(0x80 | ((codePoint >> 12) & 0x3F));
                d[2] = (byte)(0x80 | ((codePoint >> 6) & 0x3F));
                d[3] = (byte)(0x80 | (codePoint & 0x3F));
                break;
        }
        written += length;
        return true;
    }

    /// <summary>The character a one-letter escape stands for, or -1 when the letter is not a JSON escape.</summary>
    internal static int Unescape(byte kind) => kind switch
    {
        (byte)'"' => '"',
        (byte)'\\' => '\\',
        (byte)'/' => '/',
        (byte)'b' => '\b',
        (byte)'f' => '\f',
        (byte)'n' => '\n',
        (byte)'r' => '\r',
        (byte)'t' => '\t',
        _ => -1,
    };

    internal static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    internal static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    internal static SearchValues<byte> StringStopBytes => StringStops;

    internal static SearchValues<byte> NestedStopBytes => NestedStops;
}
