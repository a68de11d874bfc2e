using System.Buffers;
using System.Text;
using FastLb.Core.Json;
using FastLb.Tests.Http;
using Xunit;

namespace FastLb.Tests.Json;

public sealed class ChunkedModelScannerTests
{
    private const int Peek = JsonModelScanner.DefaultMaxBodyPeek;

    // Every escape JSON has, unicode both raw and escaped, and a surrogate pair.
    private const string AllEscapes = "{\"messages\":[{\"model\":\"no\"}],\"mod\\u0065l\":\"gpt-\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t-4o\",\"n\":1}";
    private const string AllEscapesModel = "gpt-é😀\"\\/\b\f\n\r\t-4o";

    /// <summary>The body as chunks of <paramref name="size"/> data bytes (with an extension on every other one) and the last chunk.</summary>
    private static byte[] Chunked(byte[] body, int size, bool last = true)
    {
        var wire = new List<byte>();
        for (int i = 0, n = 0; i < body.Length; i += size, n++)
        {
            int take = Math.Min(size, body.Length - i);
            wire.AddRange(Encoding.ASCII.GetBytes(n % 2 == 0 ? $"{take:x}\r\n" : $"{take:X};ext=1\r\n"));
            wire.AddRange(body.AsSpan(i, take).ToArray());
            wire.AddRange("\r\n"u8.ToArray());
        }
        if (last) wire.AddRange("0\r\n\r\n"u8.ToArray());
        return [.. wire];
    }

    private static string? Model(ReadOnlySequence<byte> chunked, int peek = Peek)
    {
        var scan = ChunkedModelScanner.Scan(chunked, peek);
        if (scan.Status != ModelScanStatus.Found) return null;
        Span<byte> name = stackalloc byte[256];
        Assert.True(ChunkedModelScanner.TryDecodeValue(chunked, scan, name, out int written));
        return Encoding.UTF8.GetString(name[..written]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(1000)]
    public void Scan_AnyChunkSize_SameModelAndDecodedRangeAsContentLength(int size)
    {
        var body = Encoding.UTF8.GetBytes(AllEscapes);
        var plain = JsonModelScanner.Scan(new ReadOnlySequence<byte>(body), Peek, bodyComplete: true);
        var chunked = new ReadOnlySequence<byte>(Chunked(body, size));
        var scan = ChunkedModelScanner.Scan(chunked, Peek);
        Assert.Equal(ModelScanStatus.Found, scan.Status);
        Assert.Equal(plain.ValueOffset, scan.ValueOffset);
        Assert.Equal(plain.ValueLength, scan.ValueLength);
        Assert.Equal(AllEscapesModel, Model(chunked));
    }

    [Fact]
    public void Scan_SplitAtEveryOffset_SameModel()
    {
        var wire = Chunked(Encoding.UTF8.GetBytes(AllEscapes), 5);
        for (int offset = 1; offset < wire.Length; offset++) Assert.Equal(AllEscapesModel, Model(Sequences.Split(wire, offset)));
        Assert.Equal(AllEscapesModel, Model(Sequences.PerByte(wire)));
    }

    [Fact]
    public void Scan_EveryPrefix_NeedMoreUntilObjectCloses()
    {
        var wire = Chunked(Encoding.UTF8.GetBytes(AllEscapes), 9, last: false);
        // The closing brace is the last data byte, before the chunk's CRLF.
        for (int length = 0; length < wire.Length - 2; length++)
        {
            Assert.Equal(ModelScanStatus.NeedMore, ChunkedModelScanner.Scan(Sequences.PerByte(wire[..length]), Peek).Status);
        }
        Assert.Equal(ModelScanStatus.Found, ChunkedModelScanner.Scan(new ReadOnlySequence<byte>(wire), Peek).Status);
    }

    [Theory]
    [InlineData("{\"messages\":[{\"model\":\"gpt-4o\"}]}", "NotFound")]
    [InlineData("{\"model\":\"a\",\"model\":\"b\"}", "Invalid")]
    [InlineData("not json", "Invalid")]
    [InlineData("{\"model\":\"a\"", "Invalid")] // the body ended inside the object
    public void Scan_NoRoutableModel_NotFoundOrInvalid(string json, string expected)
    {
        var chunked = new ReadOnlySequence<byte>(Chunked(Encoding.UTF8.GetBytes(json), 4));
        Assert.Equal(expected, ChunkedModelScanner.Scan(chunked, Peek).Status.ToString());
    }

    [Theory]
    [InlineData("x\r\n{}\r\n0\r\n\r\n")]
    [InlineData("\r\n")]
    [InlineData("2\n{}\r\n0\r\n\r\n")]
    [InlineData("3\r\n{\"aXX")]
    [InlineData("1000000000000000\r\n{")]
    public void Scan_BadFraming_Invalid(string wire)
    {
        Assert.Equal(ModelScanStatus.Invalid, ChunkedModelScanner.Scan(Sequences.Single(wire), Peek).Status);
    }

    [Fact]
    public void Scan_PeekCountsRawBytes_ModelBeyondIsNotFound()
    {
        var json = Encoding.UTF8.GetBytes("{\"input\":\"" + new string('x', 2000) + "\",\"model\":\"late\"}");
        var wire = Chunked(json, 10, last: false);
        Assert.Equal(ModelScanStatus.NotFound, ChunkedModelScanner.Scan(new ReadOnlySequence<byte>(wire), 2048).Status);
        Assert.Equal("late", Model(new ReadOnlySequence<byte>(wire), wire.Length));
        var early = Encoding.UTF8.GetBytes("{\"model\":\"early\",\"input\":\"" + new string('x', 100_000) + "\"}");
        Assert.Equal("early", Model(new ReadOnlySequence<byte>(Chunked(early, 4096, last: false))));
    }

    [Fact]
    public void TryDecodeValue_RawValueLongerThanDestinationCanHold_False()
    {
        var chunked = new ReadOnlySequence<byte>(Chunked(Encoding.UTF8.GetBytes("{\"model\":\"" + new string('m', 300) + "\"}"), 64));
        var scan = ChunkedModelScanner.Scan(chunked, Peek);
        Assert.Equal(ModelScanStatus.Found, scan.Status);
        Assert.False(ChunkedModelScanner.TryDecodeValue(chunked, scan, new byte[256], out _));
        Assert.True(ChunkedModelScanner.TryDecodeValue(chunked, scan, new byte[300], out int written));
        Assert.Equal(300, written);
    }

    [Fact]
    public void Scan_AllocatesNothing()
    {
        var chunked = Sequences.Split(Chunked(Encoding.UTF8.GetBytes(AllEscapes), 6), 17, 90);
        Span<byte> name = stackalloc byte[64];
        var scan = ChunkedModelScanner.Scan(chunked, Peek);
        ChunkedModelScanner.TryDecodeValue(chunked, scan, name, out _);
        // The fewest bytes over a few rounds: a round can catch the runtime's own one-off work on this thread (a
        // method moving to its optimized code), while an allocation of the scan shows in every round.
        long fewest = long.MaxValue;
        for (int round = 0; round < 5 && fewest != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                scan = ChunkedModelScanner.Scan(chunked, Peek);
                ChunkedModelScanner.TryDecodeValue(chunked, scan, name, out _);
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, fewest);
    }
}
