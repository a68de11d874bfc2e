using System.Buffers;

namespace FastLb.Core.Json;

/// <summary>
/// <see cref="JsonModelScanner"/> for a body sent with chunked transfer coding: walks the framing of the raw body prefix
/// (<see cref="ChunkFraming"/>) and feeds only chunk data to the same scan, O(bytes scanned), nothing copied. The peek
/// bound counts raw bytes (framing included), since those are what FastLb holds unconsumed while it routes. Offsets in
/// the result are in the decoded body.
/// </summary>
internal static class ChunkedModelScanner
{
    /// <summary>Scans at most <paramref name="maxPeek"/> raw bytes of the chunked body prefix <paramref name="chunked"/>.</summary>
    public static ModelScanResult Scan(in ReadOnlySequence<byte> chunked, int maxPeek)
    {
        var framing = default(ChunkFraming);
        var state = default(ScanState);
        long limit = Math.Min(chunked.Length, maxPeek);
        long raw = 0;
        long decoded = 0;
        foreach (var memory in chunked)
        {
            if (raw >= limit) break;
            var span = memory.Span;
            if (span.Length > limit - raw) span = span[..(int)(limit - raw)];
            int i = 0;
            while (i < span.Length && !framing.IsDone && !framing.IsInvalid)
            {
                var data = framing.NextData(span, ref i);
                if (data.IsEmpty) continue;
                if (state.Feed(data, decoded)) return state.Result();
                decoded += data.Length;
            }
            raw += span.Length;
            if (framing.IsDone || framing.IsInvalid) break;
        }
        // Bad framing, or the body ended inside the object: not a request body to route by.
        if (framing.IsInvalid || framing.IsDone || state.Phase == ScanPhase.Invalid) return ModelScanResult.Of(ModelScanStatus.Invalid);
        if (chunked.Length >= maxPeek) return state.ResultAtPeekLimit();
        return ModelScanResult.Of(ModelScanStatus.NeedMore);
    }

    /// <summary>
    /// Writes the model name found by <see cref="Scan"/> (escapes decoded, UTF-8) into <paramref name="destination"/>.
    /// The raw value may span chunks, so it is gathered first into a pooled buffer; false when it cannot fit.
    /// </summary>
    public static bool TryDecodeValue(in ReadOnlySequence<byte> chunked, in ModelScanResult scan, Span<byte> destination, out int written)
    {
        written = 0;
        // A \uXXXX escape (6 raw bytes) decodes to at least one byte, so a longer raw value cannot fit.
        if (scan.Status != ModelScanStatus.Found || scan.ValueLength > destination.Length * 6) return false;
        int length = scan.ValueLength;
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            if (Gather(chunked, scan.ValueOffset, rented.AsSpan(0, length)) != length) return false;
            var value = new ReadOnlySequence<byte>(rented, 0, length);
            return JsonModelScanner.TryDecodeValue(value, new ModelScanResult(ModelScanStatus.Found, 0, length, scan.ValueHasEscapes), destination, out written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Copies decoded body bytes from <paramref name="start"/> into <paramref name="destination"/>; returns how many.</summary>
    internal static int Gather(in ReadOnlySequence<byte> chunked, long start, Span<byte> destination)
    {
        var framing = default(ChunkFraming);
        long decoded = 0;
        int copied = 0;
        foreach (var memory in chunked)
        {
            var span = memory.Span;
            int i = 0;
            while (i < span.Length && !framing.IsDone && !framing.IsInvalid)
            {
                var data = framing.NextData(span, ref i);
                long end = decoded + data.Length;
                if (end > start)
                {
                    int from = (int)Math.Max(0, start - decoded);
                    var piece = data[from..];
                    if (piece.Length > destination.Length - copied) piece = piece[..(destination.Length - copied)];
                    piece.CopyTo(destination[copied..]);
                    copied += piece.Length;
                    if (copied == destination.Length) return copied;
                }
                decoded = end;
            }
        }
        return copied;
    }
}
