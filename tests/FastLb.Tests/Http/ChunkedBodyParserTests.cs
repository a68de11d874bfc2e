using System.Buffers;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class ChunkedBodyParserTests
{
    /// <summary>Feeds <paramref name="bytes"/> as successive reads, consuming what the parser accepted each time, like the proxy loop.</summary>
    private static (BodyParseStatus Status, long Forwarded) Feed(byte[] bytes, params int[] readBoundaries)
    {
        var parser = new ChunkedBodyParser();
        parser.Reset();
        long forwarded = 0;
        var ends = new List<int>(readBoundaries) { bytes.Length };
        foreach (int end in ends)
        {
            // Unconsumed bytes (none, since the parser accepts everything it validated) plus the newly arrived ones.
            var buffer = new ReadOnlySequence<byte>(bytes, (int)forwarded, end - (int)forwarded);
            var status = parser.Parse(buffer, out long consumed);
            Assert.InRange(consumed, 0, buffer.Length);
            forwarded += consumed;
            if (status != BodyParseStatus.NeedMoreData) return (status, forwarded);
            Assert.Equal(end, forwarded);
        }
        return (BodyParseStatus.NeedMoreData, forwarded);
    }

    /// <summary>Like <see cref="Feed"/> for a parser that holds incomplete lines: unconsumed bytes are presented again.</summary>
    private static (BodyParseStatus Status, long Forwarded) FeedHolding(byte[] bytes, params int[] readBoundaries)
    {
        var parser = new ChunkedBodyParser(holdIncompleteLines: true);
        long forwarded = 0;
        var ends = new List<int>(readBoundaries) { bytes.Length };
        foreach (int end in ends)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, (int)forwarded, end - (int)forwarded);
            var status = parser.Parse(buffer, out long consumed);
            Assert.InRange(consumed, 0, buffer.Length);
            if (status == BodyParseStatus.Error) return (status, forwarded); // the caller forwards nothing of a failed read
            forwarded += consumed;
            if (status != BodyParseStatus.NeedMoreData) return (status, forwarded);
        }
        return (BodyParseStatus.NeedMoreData, forwarded);
    }

    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")]
    [InlineData("5;name=value\r\nhello\r\n0;last\r\n\r\n")]
    [InlineData("0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n")]
    public void Parse_HoldingValidBody_DoneAtLastByteForEverySplit(string raw)
    {
        var bytes = Sequences.Bytes(raw);

        Assert.Equal((BodyParseStatus.Done, bytes.Length), FeedHolding(bytes));
        for (int i = 1; i < bytes.Length; i++) Assert.Equal((BodyParseStatus.Done, bytes.Length), FeedHolding(bytes, i));
        var everyByte = new int[bytes.Length - 1];
        for (int i = 0; i < everyByte.Length; i++) everyByte[i] = i + 1;
        Assert.Equal((BodyParseStatus.Done, bytes.Length), FeedHolding(bytes, everyByte));
    }

    [Theory]
    [InlineData("5\r\nhello\r\nzz\r\n", 8)]
    [InlineData("5\r\nhello\r\n-5\r\n", 8)]
    [InlineData("5\r\nhello\r\n5\nhello", 8)]
    [InlineData("5\r\nhelloXX", 8)]
    [InlineData("5\r\nhello\r\n0\r\nX: a\rb", 8)]
    [InlineData("fffffffffffffffffffff\r\n", 0)]
    [InlineData("0x5\r\nhello", 0)]
    public void Parse_HoldingInvalidLine_NoByteOfTheLineForwardedForEverySplit(string raw, int validPrefix)
    {
        var bytes = Sequences.Bytes(raw);

        Assert.Equal((BodyParseStatus.Error, 0), FeedHolding(bytes)); // one read: nothing of it goes out
        for (int i = 1; i < bytes.Length; i++)
        {
            var (status, forwarded) = FeedHolding(bytes, i);
            Assert.Equal(BodyParseStatus.Error, status);
            Assert.InRange(forwarded, 0, validPrefix);
        }
    }

    [Fact]
    public void Parse_HoldingOversizedExtension_NothingForwarded()
    {
        var parser = new ChunkedBodyParser(holdIncompleteLines: true);
        var line = Sequences.Bytes("1;" + new string('x', HttpLimits.MaxChunkLineBytes / 2));

        Assert.Equal(BodyParseStatus.NeedMoreData, parser.Parse(new ReadOnlySequence<byte>(line), out long consumed));
        Assert.Equal(0, consumed);
        var longer = Sequences.Bytes("1;" + new string('x', HttpLimits.MaxChunkLineBytes));
        Assert.Equal(BodyParseStatus.Error, parser.Parse(new ReadOnlySequence<byte>(longer), out _));
    }

    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")]
    [InlineData("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n")]
    [InlineData("0005\r\nhello\r\n000\r\n\r\n")]
    [InlineData("0000000000000005\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;name=value\r\nhello\r\n0;last\r\n\r\n")]
    [InlineData("5 ;name=\"quoted value\"\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\t;x\r\nhello\r\n0\r\n\r\n")]
    [InlineData("0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n")]
    [InlineData("0\r\n\r\n")]
    public void Parse_ValidBody_DoneAtLastByteForEverySplit(string raw)
    {
        var bytes = Sequences.Bytes(raw);

        Assert.Equal((BodyParseStatus.Done, bytes.Length), Feed(bytes));
        for (int i = 1; i < bytes.Length; i++) Assert.Equal((BodyParseStatus.Done, bytes.Length), Feed(bytes, i));
        var everyByte = new int[bytes.Length - 1];
        for (int i = 0; i < everyByte.Length; i++) everyByte[i] = i + 1;
        Assert.Equal((BodyParseStatus.Done, bytes.Length), Feed(bytes, everyByte));
    }

    [Fact]
    public void Parse_MultiSegmentSequence_SameAsContiguous()
    {
        var bytes = Sequences.Bytes("5\r\nhello\r\n0\r\nT: 1\r\n\r\n");
        for (int i = 1; i < bytes.Length; i++)
        {
            var parser = new ChunkedBodyParser();
            Assert.Equal(BodyParseStatus.Done, parser.Parse(Sequences.Split(bytes, i), out long consumed));
            Assert.Equal(bytes.Length, consumed);
        }
        var perByte = new ChunkedBodyParser();
        Assert.Equal(BodyParseStatus.Done, perByte.Parse(Sequences.PerByte(bytes), out long all));
        Assert.Equal(bytes.Length, all);
    }

    [Fact]
    public void Parse_PipelinedBytesAfterBody_NotConsumed()
    {
        var parser = new ChunkedBodyParser();
        var status = parser.Parse(Sequences.Single("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), out long consumed);

        Assert.Equal(BodyParseStatus.Done, status);
        Assert.Equal(13, consumed);
        Assert.True(parser.IsDone);
    }

    [Fact]
    public void Parse_PartialChunk_NeedMoreDataAndEverythingForwardable()
    {
        var parser = new ChunkedBodyParser();
        Assert.Equal(BodyParseStatus.NeedMoreData, parser.Parse(Sequences.Single("5\r\nhel"), out long consumed));
        Assert.Equal(6, consumed);
        Assert.Equal(BodyParseStatus.NeedMoreData, parser.Parse(Sequences.Single("lo\r\n"), out consumed));
        Assert.Equal(4, consumed);
        Assert.Equal(BodyParseStatus.Done, parser.Parse(Sequences.Single("0\r\n\r\n"), out consumed));
        Assert.Equal(5, consumed);
    }

    [Fact]
    public void Parse_LargeChunkSize_DataSkippedInBulk()
    {
        var parser = new ChunkedBodyParser();
        Assert.Equal(BodyParseStatus.NeedMoreData, parser.Parse(Sequences.Single("7FFFFFFFFFFFFFFF\r\n"), out _));
        Assert.Equal(BodyParseStatus.NeedMoreData, parser.Parse(new ReadOnlySequence<byte>(new byte[1 << 20]), out long consumed));
        Assert.Equal(1 << 20, consumed);
    }

    [Theory]
    // Row 9: chunk-size syntax.
    [InlineData("Z\r\n")]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("-1\r\n")]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5_0\r\n")]
    [InlineData("00000000000000005\r\nhello\r\n0\r\n\r\n")]
    [InlineData("FFFFFFFFFFFFFFFF\r\n")]
    [InlineData("8000000000000000\r\n")]
    [InlineData("\r\n")]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\n hello\r\n0\r\n\r\n")]
    // Row 10: data longer than its size, or no CRLF after it.
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello0\r\n\r\n")]
    [InlineData("5\r\nhello\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r0\r\n\r\n")]
    // Row 12: bare CR or LF in a chunk extension.
    [InlineData("5;a\rb\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\nb\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\0\r\nhello\r\n0\r\n\r\n")]
    // Trailer field syntax.
    [InlineData("0\r\nX : 1\r\n\r\n")]
    [InlineData("0\r\nNoColon\r\n\r\n")]
    [InlineData("0\r\n: 1\r\n\r\n")]
    [InlineData("0\r\n X: 1\r\n\r\n")]
    [InlineData("0\r\nX: 1\r\n folded\r\n\r\n")]
    [InlineData("0\r\nX: a\rb\r\n\r\n")]
    [InlineData("0\r\nX: a\nb\r\n\r\n")]
    [InlineData("0\r\nX: a\0\r\n\r\n")]
    [InlineData("0\r\n\n")]
    [InlineData("0\r\n\rX")]
    public void Parse_InvalidFraming_ErrorForEverySplit(string raw)
    {
        var bytes = Sequences.Bytes(raw);

        Assert.Equal(BodyParseStatus.Error, Feed(bytes).Status);
        for (int i = 1; i < bytes.Length; i++) Assert.Equal(BodyParseStatus.Error, Feed(bytes, i).Status);
    }

    [Fact]
    public void Parse_EndlessExtension_ErrorAtLineLimit()
    {
        var parser = new ChunkedBodyParser();
        var line = Sequences.Bytes("1;" + new string('x', HttpLimits.MaxChunkLineBytes));

        Assert.Equal(BodyParseStatus.Error, parser.Parse(new ReadOnlySequence<byte>(line), out _));
        Assert.NotNull(parser.ErrorReason);
    }

    [Fact]
    public void Parse_AfterError_StaysFailedUntilReset()
    {
        var parser = new ChunkedBodyParser();
        parser.Parse(Sequences.Single("Z"), out _);

        Assert.Equal(BodyParseStatus.Error, parser.Parse(Sequences.Single("0\r\n\r\n"), out _));
        parser.Reset();
        Assert.Equal(BodyParseStatus.Done, parser.Parse(Sequences.Single("0\r\n\r\n"), out _));
    }
}
