using System.Buffers;
using System.Text;

namespace FastLb.Tests.Http;

/// <summary>Builds byte sequences from test strings (Latin-1, so "\0" and "\x80" stay single bytes) and splits them into segments.</summary>
internal static class Sequences
{
    public static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    public static ReadOnlySequence<byte> Single(string s) => new(Bytes(s));

    /// <summary>Splits <paramref name="bytes"/> at the given ascending offsets; each piece gets its own array so reads across the seam are real.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] offsets)
    {
        var pieces = new List<byte[]>();
        int start = 0;
        foreach (int offset in offsets)
        {
            pieces.Add(bytes[start..offset]);
            start = offset;
        }
        pieces.Add(bytes[start..]);
        return FromPieces(pieces);
    }

    /// <summary>One segment per byte: the worst case for any code that assumes contiguous input.</summary>
    public static ReadOnlySequence<byte> PerByte(byte[] bytes)
    {
        var pieces = new List<byte[]>();
        foreach (byte b in bytes) pieces.Add([b]);
        return FromPieces(pieces);
    }

    private static ReadOnlySequence<byte> FromPieces(List<byte[]> pieces)
    {
        if (pieces.Count == 0) return ReadOnlySequence<byte>.Empty;
        var first = new TestSegment(pieces[0]);
        var last = first;
        for (int i = 1; i < pieces.Count; i++) last = last.Append(pieces[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
