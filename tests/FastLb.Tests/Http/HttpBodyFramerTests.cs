using System.Buffers;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class HttpBodyFramerTests
{
    [Fact]
    public void Advance_ContentLengthWithPipelinedBytes_ForwardsExactlyTheBody()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.ContentLength, 5);

        Assert.Equal(BodyParseStatus.NeedMoreData, framer.Advance(Sequences.Single("hel"), false, out long n));
        Assert.Equal(3, n);
        Assert.Equal(BodyParseStatus.Done, framer.Advance(Sequences.Single("loGET /"), false, out n));
        Assert.Equal(2, n);
    }

    [Fact]
    public void Advance_ContentLengthPeerClosedEarly_Error()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.ContentLength, 5);

        Assert.Equal(BodyParseStatus.Error, framer.Advance(Sequences.Single("hel"), true, out long n));
        Assert.Equal(3, n);
        Assert.NotNull(framer.ErrorReason);
    }

    [Fact]
    public void Advance_ZeroLengthAndNone_DoneImmediately()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.ContentLength, 0);
        Assert.Equal(BodyParseStatus.Done, framer.Advance(ReadOnlySequence<byte>.Empty, false, out long n));
        Assert.Equal(0, n);

        framer.Reset(BodyFraming.None, -1);
        Assert.Equal(BodyParseStatus.Done, framer.Advance(Sequences.Single("GET"), false, out n));
        Assert.Equal(0, n);
    }

    [Fact]
    public void Advance_CloseDelimited_DoneAtEof()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.CloseDelimited, -1);

        Assert.Equal(BodyParseStatus.NeedMoreData, framer.Advance(Sequences.Single("abc"), false, out long n));
        Assert.Equal(3, n);
        Assert.Equal(BodyParseStatus.Done, framer.Advance(Sequences.Single("de"), true, out n));
        Assert.Equal(2, n);
    }

    [Fact]
    public void Advance_ChunkedTruncated_Error()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.Chunked, -1);

        Assert.Equal(BodyParseStatus.Error, framer.Advance(Sequences.Single("5\r\nhel"), true, out _));
    }

    [Fact]
    public void Advance_ChunkedInvalid_ErrorReasonFromParser()
    {
        var framer = new HttpBodyFramer();
        framer.Reset(BodyFraming.Chunked, -1);

        Assert.Equal(BodyParseStatus.Error, framer.Advance(Sequences.Single("Z\r\n"), false, out _));
        Assert.Equal("Invalid chunk size", framer.ErrorReason);
    }

    [Fact]
    public void Reset_FromParsedRequest_UsesItsFraming()
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"), head, out _, out _);
        var framer = new HttpBodyFramer();
        framer.Reset(head);

        Assert.Equal(BodyFraming.ContentLength, framer.Framing);
        Assert.Equal(2, framer.Remaining);
    }
}
