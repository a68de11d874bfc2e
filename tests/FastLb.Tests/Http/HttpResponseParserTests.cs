using System.Buffers;
using System.Text;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class HttpResponseParserTests
{
    private readonly record struct Outcome(
        HttpParseStatus Status, int ErrorStatus, long Consumed, int StatusCode, string Reason,
        BodyFraming Framing, long ContentLength, bool Chunked, bool Conflicting, bool CanReuse, int HeaderCount);

    private static Outcome Run(in ReadOnlySequence<byte> buffer, HttpMethodKind method, HttpResponseHead head)
    {
        var status = HttpResponseParser.Parse(buffer, method, head, out var consumed, out _);
        bool ok = status == HttpParseStatus.Complete;
        return new Outcome(
            status, head.ErrorStatusCode, buffer.Slice(buffer.Start, consumed).Length,
            ok ? head.StatusCode : 0, ok ? Encoding.Latin1.GetString(head.ReasonPhrase) : "",
            ok ? head.Framing : default, ok ? head.ContentLength : 0, ok && head.HasChunkedTransferEncoding,
            ok && head.HadConflictingLength, ok && head.CanReuseConnection, ok ? head.HeaderCount : 0);
    }

    private static Outcome ParseEverySplit(string raw, HttpMethodKind method = HttpMethodKind.Get)
    {
        var bytes = Sequences.Bytes(raw);
        using var head = new HttpResponseHead();
        var expected = Run(new ReadOnlySequence<byte>(bytes), method, head);
        for (int i = 1; i < bytes.Length; i++) Assert.Equal(expected, Run(Sequences.Split(bytes, i), method, head));
        Assert.Equal(expected, Run(Sequences.PerByte(bytes), method, head));
        return expected;
    }

    [Fact]
    public void Parse_TypicalResponse_ContentLengthAndReusable()
    {
        var outcome = ParseEverySplit(SampleHeads.TypicalResponse);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(200, outcome.StatusCode);
        Assert.Equal("OK", outcome.Reason);
        Assert.Equal(BodyFraming.ContentLength, outcome.Framing);
        Assert.Equal(5120, outcome.ContentLength);
        Assert.True(outcome.CanReuse);
        Assert.Equal(8, outcome.HeaderCount);
        Assert.Equal(SampleHeads.TypicalResponse.Length, outcome.Consumed);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", "Chunked", -1, true)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "GET", "CloseDelimited", -1, false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", "ContentLength", 0, true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", "GET", "ContentLength", 7, true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", "None", 5, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", "None", -1, true)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", "GET", "None", -1, true)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", "GET", "None", 100, true)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", "POST", "None", -1, true)]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", "None", -1, false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, true)]
    [InlineData("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, true)]
    [InlineData("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, true)]
    [InlineData("HTTP/1.1 404 Not   Found\u00e9\r\nContent-Length: 1\r\n\r\n", "GET", "ContentLength", 1, true)]
    public void Parse_Framing_PerRfc9112Section6_3(string raw, string method, string framing, long contentLength, bool canReuse)
    {
        var outcome = ParseEverySplit(raw, Enum.Parse<HttpMethodKind>(method, ignoreCase: true));

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(Enum.Parse<BodyFraming>(framing), outcome.Framing);
        Assert.Equal(contentLength, outcome.ContentLength);
        Assert.Equal(canReuse, outcome.CanReuse);
    }

    [Fact]
    public void Parse_ContentLengthAndChunked_FramedByChunkedAndNotReusable()
    {
        // Row 24, second half.
        var outcome = ParseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(BodyFraming.Chunked, outcome.Framing);
        Assert.Equal(-1, outcome.ContentLength);
        Assert.True(outcome.Conflicting);
        Assert.False(outcome.CanReuse);
    }

    [Theory]
    // Row 24: invalid Content-Length or Transfer-Encoding from a backend.
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 10\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    // Field syntax is as strict as for requests.
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 1\n\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX : a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n")]
    // Status line.
    [InlineData("HTTP/1.1 99 Odd\r\n\r\n")]
    [InlineData("HTTP/1.1 600 Odd\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20x OK\r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.2 200 OK\r\n\r\n")]
    [InlineData("http/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1  200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\u0001K\r\n\r\n")]
    [InlineData("\r\nHTTP/1.1 200 OK\r\n\r\n")]
    public void Parse_InvalidResponse_502(string raw)
    {
        var outcome = ParseEverySplit(raw);

        Assert.Equal(HttpParseStatus.Error, outcome.Status);
        Assert.Equal(502, outcome.ErrorStatus);
    }

    [Fact]
    public void Parse_InterimThenFinal_ParsedOneAfterTheOther()
    {
        var buffer = Sequences.Single("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        using var head = new HttpResponseHead();

        Assert.Equal(HttpParseStatus.Complete, HttpResponseParser.Parse(buffer, HttpMethodKind.Post, head, out var consumed, out _));
        Assert.True(head.IsInformational);
        buffer = buffer.Slice(consumed);
        Assert.Equal(HttpParseStatus.Complete, HttpResponseParser.Parse(buffer, HttpMethodKind.Post, head, out consumed, out _));
        Assert.Equal(201, head.StatusCode);
        Assert.False(head.IsInformational);
        Assert.Equal(buffer.End, consumed);
    }

    [Fact]
    public void Parse_EveryPrefix_Incomplete()
    {
        var bytes = Sequences.Bytes(SampleHeads.TypicalResponse);
        using var head = new HttpResponseHead();
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.Equal(HttpParseStatus.Incomplete, HttpResponseParser.Parse(buffer, HttpMethodKind.Get, head, out var consumed, out var examined));
            Assert.Equal(buffer.Start, consumed);
            Assert.Equal(buffer.End, examined);
        }
    }

    [Fact]
    public void Parse_ConnectionNamedHeaders_Exposed()
    {
        using var head = new HttpResponseHead();
        HttpResponseParser.Parse(Sequences.Single("HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nContent-Length: 0\r\n\r\n"), HttpMethodKind.Get, head, out _, out _);

        Assert.True(head.IsNominatedByConnection("x-internal"u8));
        Assert.True(head.TryGetHeader("CONTENT-LENGTH"u8, out var cl));
        Assert.Equal("0", Encoding.ASCII.GetString(cl));
    }
}
