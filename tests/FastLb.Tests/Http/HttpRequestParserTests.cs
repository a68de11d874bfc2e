using System.Buffers;
using System.Text;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class HttpRequestParserTests
{
    private const string Ok = "GET / HTTP/1.1\r\nHost: a.example\r\n";

    /// <summary>Everything a split could change, as one comparable value.</summary>
    private readonly record struct Outcome(
        HttpParseStatus Status, int ErrorStatus, long Consumed, long Examined,
        HttpMethodKind Method, string Target, HttpProtocolVersion Version, BodyFraming Framing,
        long ContentLength, int HeaderCount, string Authority);

    private static Outcome Run(in ReadOnlySequence<byte> buffer, HttpRequestHead head)
    {
        var status = HttpRequestParser.Parse(buffer, head, out var consumed, out var examined);
        bool ok = status == HttpParseStatus.Complete;
        return new Outcome(
            status, head.ErrorStatusCode,
            buffer.Slice(buffer.Start, consumed).Length, buffer.Slice(buffer.Start, examined).Length,
            ok ? head.Method : default, ok ? Encoding.Latin1.GetString(head.Target) : "",
            ok ? head.Version : default, ok ? head.Framing : default, ok ? head.ContentLength : 0,
            ok ? head.HeaderCount : 0, ok ? Encoding.Latin1.GetString(head.Authority) : "");
    }

    /// <summary>Parses contiguously, split at every byte, and one byte per segment; all must agree.</summary>
    private static Outcome ParseEverySplit(string raw)
    {
        var bytes = Sequences.Bytes(raw);
        using var head = new HttpRequestHead();
        var expected = Run(new ReadOnlySequence<byte>(bytes), head);
        for (int i = 1; i < bytes.Length; i++)
        {
            Assert.Equal(expected, Run(Sequences.Split(bytes, i), head));
        }
        Assert.Equal(expected, Run(Sequences.PerByte(bytes), head));
        return expected;
    }

    [Theory]
    // 1: Content-Length with Transfer-Encoding, either order.
    [InlineData("1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    [InlineData("1", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400)]
    // 2: differing Content-Length values.
    [InlineData("2", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\n", 400)]
    [InlineData("2", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 10\r\n\r\n", 400)]
    // 4: Content-Length syntax and overflow.
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400)]
    // 5: codings other than a final chunked.
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400)]
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400)]
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400)]
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400)]
    // 6: repeated chunked, in one line or two.
    [InlineData("6", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400)]
    [InlineData("6", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    // 7: look-alike codings, control characters, space before the colon.
    [InlineData("7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400)]
    [InlineData("7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\u000b\r\n\r\n", 400)]
    [InlineData("7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u0001chunked\r\n\r\n", 400)]
    [InlineData("7", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400)]
    [InlineData("7", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400)]
    // 8: HTTP/1.0 with Transfer-Encoding.
    [InlineData("8", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    // 11: bare LF anywhere as a line end.
    [InlineData("11", "GET / HTTP/1.1\nHost: a\n\n", 400)]
    [InlineData("11", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400)]
    [InlineData("11", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400)]
    [InlineData("11", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    // 12: bare CR in a header value or the request line.
    [InlineData("12", Ok + "X: a\rb\r\n\r\n", 400)]
    [InlineData("12", Ok + "X: a\r\r\n\r\n", 400)]
    [InlineData("12", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    // 13: NUL or other CTLs in a value (LF is row 11).
    [InlineData("13", Ok + "X: a\0b\r\n\r\n", 400)]
    [InlineData("13", Ok + "X: a\u007fb\r\n\r\n", 400)]
    [InlineData("13", Ok + "X: a\nb\r\n\r\n", 400)]
    // 14: obs-fold with space or tab.
    [InlineData("14", Ok + "X: a\r\n b\r\n\r\n", 400)]
    [InlineData("14", Ok + "X: a\r\n\tb\r\n\r\n", 400)]
    // 15: whitespace line or leading whitespace before the first header.
    [InlineData("15", "GET / HTTP/1.1\r\n \r\nHost: a\r\n\r\n", 400)]
    [InlineData("15", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400)]
    // 16: bad field names.
    [InlineData("16", Ok + "X@Y: 1\r\n\r\n", 400)]
    [InlineData("16", Ok + "X(Y): 1\r\n\r\n", 400)]
    [InlineData("16", Ok + ": 1\r\n\r\n", 400)]
    [InlineData("16", Ok + "NoColon\r\n\r\n", 400)]
    [InlineData("16", Ok + "X\u00e9: 1\r\n\r\n", 400)]
    // 17: Host rules for HTTP/1.1.
    [InlineData("17", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n", 400)]
    [InlineData("17", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400)]
    // 18: target forms.
    [InlineData("18", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET host:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET admin HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "GET /\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("18", "CONNECT host:80 HTTP/1.1\r\nHost: host:80\r\n\r\n", 405)]
    // 20: versions and request-line spacing.
    [InlineData("20", "GET / HTTP/1.32\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET / HTTP/01.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET / http/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET /\r\nHost: a\r\n\r\n", 400)]
    [InlineData("20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)]
    [InlineData("20", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505)]
    [InlineData("20", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505)]
    [InlineData("20", "GET /\r\n", 400)]
    [InlineData("20", "GET /index.html\r\n", 400)]
    [InlineData("Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400)]
    [InlineData("Host", "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n", 400)]
    // Method must be a token.
    [InlineData("method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("method", "G\u00c9T / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    public void Parse_ConformanceRowRejected_ExpectedStatus(string row, string raw, int expectedStatus)
    {
        var outcome = ParseEverySplit(raw);

        Assert.True(outcome.Status == HttpParseStatus.Error, $"row {row}: expected {expectedStatus}, got {outcome.Status}");
        Assert.Equal(expectedStatus, outcome.ErrorStatus);
        // Row 22: a rejected head consumes nothing, so no later byte is ever parsed as a request.
        Assert.Equal(0, outcome.Consumed);
    }

    [Theory]
    // 3: identical repeated Content-Length is one Content-Length.
    [InlineData("3", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42, 42\r\n\r\n", "ContentLength", 42)]
    [InlineData("3", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\nContent-Length: 42\r\n\r\n", "ContentLength", 42)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", "ContentLength", long.MaxValue)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", "ContentLength", 7)]
    [InlineData("4", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "ContentLength", 0)]
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "Chunked", -1)]
    [InlineData("5", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED \r\n\r\n", "Chunked", -1)]
    [InlineData("none", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "None", -1)]
    public void Parse_ValidFraming_Accepted(string row, string raw, string framing, long contentLength)
    {
        var outcome = ParseEverySplit(raw);

        Assert.True(outcome.Status == HttpParseStatus.Complete, $"row {row}: {outcome.Status} {outcome.ErrorStatus}");
        Assert.Equal(Enum.Parse<BodyFraming>(framing), outcome.Framing);
        Assert.Equal(contentLength, outcome.ContentLength);
        Assert.Equal(raw.Length, outcome.Consumed);
    }

    [Theory]
    [InlineData("GET / HTTP/1.0\r\n\r\n", "")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: \r\n\r\n", "a")]
    [InlineData("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "[::1]:8080")]
    [InlineData("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", "10.0.0.1")]
    [InlineData("GET / HTTP/1.1\r\nHost:a.example:443\r\n\r\n", "a.example:443")]
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "a")]
    [InlineData("get /x HTTP/1.1\r\nHost: a\r\n\r\n", "a")]
    [InlineData("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "a")]
    public void Parse_ValidRequest_Complete(string raw, string authority)
    {
        var outcome = ParseEverySplit(raw);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(authority, outcome.Authority);
        Assert.Equal(raw.Length, outcome.Consumed);
        Assert.Equal(raw.Length, outcome.Examined);
    }

    [Fact]
    public void Parse_AbsoluteFormWithDifferentHost_RoutesByTargetAuthority()
    {
        // Row 19.
        using var head = new HttpRequestHead();
        var status = HttpRequestParser.Parse(
            Sequences.Single("GET http://b.example:8080/p?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"), head, out _, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        Assert.Equal(RequestTargetForm.Absolute, head.TargetForm);
        Assert.Equal("b.example:8080", Encoding.ASCII.GetString(head.Authority));
        Assert.Equal("b.example:8080", Encoding.ASCII.GetString(head.TargetAuthority));
        Assert.Equal("/p?q=1", Encoding.ASCII.GetString(head.PathAndQuery));
        Assert.Equal("a.example", Encoding.ASCII.GetString(head.Host));
    }

    [Fact]
    public void Parse_TypicalBrowserRequest_AllFieldsExposed()
    {
        using var head = new HttpRequestHead();
        var outcome = ParseEverySplit(SampleHeads.BrowserRequest);
        var status = HttpRequestParser.Parse(Sequences.Single(SampleHeads.BrowserRequest), head, out _, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        Assert.Equal(SampleHeads.BrowserRequest.Length, outcome.Consumed);
        Assert.Equal(HttpMethodKind.Get, head.Method);
        Assert.Equal("GET", Encoding.ASCII.GetString(head.MethodBytes));
        Assert.Equal("/products/list?page=2&sort=price", Encoding.ASCII.GetString(head.Target));
        Assert.Equal(HttpProtocolVersion.Http11, head.Version);
        Assert.Equal("shop.example.com", Encoding.ASCII.GetString(head.Host));
        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.True(head.KeepAlive);
        Assert.True(head.ConnectionKeepAlive);
        Assert.Equal(13, head.HeaderCount);
        Assert.Equal("User-Agent", Encoding.ASCII.GetString(head.GetHeaderName(1)));
        Assert.True(head.TryGetHeader("accept-language"u8, out var lang));
        Assert.Equal("en-US,en;q=0.9", Encoding.ASCII.GetString(lang));
        Assert.True(head.TryGetCookie("session"u8, out var session));
        Assert.Equal("abc123", Encoding.ASCII.GetString(session));
        Assert.True(head.TryGetCookie("theme"u8, out var theme));
        Assert.Equal("dark", Encoding.ASCII.GetString(theme));
        Assert.False(head.TryGetCookie("Session"u8, out _));
        Assert.False(head.TryGetHeader("X-Missing"u8, out _));
    }

    [Fact]
    public void Parse_EveryPrefixOfValidHead_IncompleteAndExaminedToEnd()
    {
        var bytes = Sequences.Bytes(SampleHeads.BrowserRequest);
        using var head = new HttpRequestHead();
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            var status = HttpRequestParser.Parse(buffer, head, out var consumed, out var examined);

            Assert.Equal(HttpParseStatus.Incomplete, status);
            Assert.Equal(buffer.Start, consumed);
            Assert.Equal(buffer.End, examined);
        }
    }

    [Fact]
    public void Parse_PipelinedRequests_ConsumesOneHeadAtATime()
    {
        var bytes = Sequences.Bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\nGET /3");
        var buffer = new ReadOnlySequence<byte>(bytes);
        using var head = new HttpRequestHead();

        Assert.Equal(HttpParseStatus.Complete, HttpRequestParser.Parse(buffer, head, out var consumed, out _));
        Assert.Equal("/1", Encoding.ASCII.GetString(head.Target));
        buffer = buffer.Slice(consumed);
        Assert.Equal(HttpParseStatus.Complete, HttpRequestParser.Parse(buffer, head, out consumed, out _));
        Assert.Equal("/2", Encoding.ASCII.GetString(head.Target));
        Assert.Equal("b", Encoding.ASCII.GetString(head.Host));
        buffer = buffer.Slice(consumed);
        Assert.Equal(HttpParseStatus.Incomplete, HttpRequestParser.Parse(buffer, head, out _, out _));
    }

    [Fact]
    public void Parse_RejectedRequestFollowedByPipelinedBytes_ConsumesNothing()
    {
        // Row 22: the smuggled second request must never be parsed.
        var raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
        var buffer = Sequences.Single(raw);
        using var head = new HttpRequestHead();

        Assert.Equal(HttpParseStatus.Error, HttpRequestParser.Parse(buffer, head, out var consumed, out var examined));
        Assert.Equal(400, head.ErrorStatusCode);
        Assert.Equal(buffer.Start, consumed);
        Assert.Equal(buffer.Start, examined);
    }

    [Fact]
    public void Parse_RequestLineAtLimit_Accepted()
    {
        string target = "/" + new string('a', HttpLimits.MaxStartLineBytes - "GET  HTTP/1.1".Length - 1);
        var outcome = ParseOnce($"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
    }

    [Fact]
    public void Parse_RequestLineOverLimit_414()
    {
        // Row 21, complete and still incomplete.
        string target = "/" + new string('a', HttpLimits.MaxStartLineBytes);
        Assert.Equal(414, ParseOnce($"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").ErrorStatus);
        Assert.Equal(414, ParseOnce($"GET {target}").ErrorStatus);
    }

    [Fact]
    public void Parse_HundredHeaders_Accepted()
    {
        var sb = new StringBuilder("GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 1; i < HttpLimits.MaxHeaderCount; i++) sb.Append("X-H").Append(i).Append(": v\r\n");
        var outcome = ParseOnce(sb.Append("\r\n").ToString());

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(100, outcome.HeaderCount);
    }

    [Fact]
    public void Parse_MoreThanHundredHeaders_431()
    {
        var sb = new StringBuilder("GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < HttpLimits.MaxHeaderCount; i++) sb.Append("X-H").Append(i).Append(": v\r\n");

        Assert.Equal(431, ParseOnce(sb.Append("\r\n").ToString()).ErrorStatus);
    }

    [Fact]
    public void Parse_HeadOver32KiB_431EvenBeforeItEnds()
    {
        string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('b', HttpLimits.MaxHeadBytes);
        var bytes = Sequences.Bytes(big);

        Assert.Equal(431, ParseOnce(big + "\r\n\r\n").ErrorStatus);
        Assert.Equal(431, ParseOnce(big).ErrorStatus);
        // Same across segments, where the slow path copies only up to the limit.
        using var head = new HttpRequestHead();
        Assert.Equal(HttpParseStatus.Error, HttpRequestParser.Parse(Sequences.Split(bytes, 100, 20000), head, out _, out _));
        Assert.Equal(431, head.ErrorStatusCode);
    }

    [Fact]
    public void Parse_GarbageWithoutLineEnd_400BeforeLimit()
    {
        // A TLS ClientHello on a plain port fails fast instead of being buffered.
        Assert.Equal(400, ParseOnce("\u0016\u0003\u0001\u0002\u0000\u0001").ErrorStatus);
    }

    [Theory]
    [InlineData("Connection: close", true, false, false)]
    [InlineData("Connection: Keep-Alive", false, true, false)]
    [InlineData("Connection: upgrade, X-Foo\r\nConnection: CLOSE", true, false, true)]
    [InlineData("Connection: ,,", false, false, false)]
    public void Parse_ConnectionTokens_Flagged(string field, bool close, bool keepAlive, bool upgrade)
    {
        using var head = new HttpRequestHead();
        var status = HttpRequestParser.Parse(Sequences.Single(Ok + field + "\r\n\r\n"), head, out _, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        Assert.Equal(close, head.ConnectionClose);
        Assert.Equal(keepAlive, head.ConnectionKeepAlive);
        Assert.Equal(upgrade, head.ConnectionUpgrade);
        Assert.Equal(!close, head.KeepAlive);
    }

    [Fact]
    public void Parse_ConnectionNamesOtherHeaders_ListExposed()
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single(Ok + "Connection: close, X-Forwarded-For , x-custom\r\n\r\n"), head, out _, out _);

        Assert.Equal(2, head.ConnectionTokenCount);
        Assert.Equal("X-Forwarded-For", Encoding.ASCII.GetString(head.GetConnectionToken(0)));
        Assert.Equal("x-custom", Encoding.ASCII.GetString(head.GetConnectionToken(1)));
        Assert.True(head.IsNominatedByConnection("X-CUSTOM"u8));
        Assert.False(head.IsNominatedByConnection("Host"u8));
    }

    [Fact]
    public void Parse_InvalidConnectionToken_400()
    {
        Assert.Equal(400, ParseOnce(Ok + "Connection: a b\r\n\r\n").ErrorStatus);
    }

    [Theory]
    [InlineData("Connection: Upgrade\r\nUpgrade: websocket", true)]
    [InlineData("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c", false)]
    [InlineData("Upgrade: websocket", false)]
    [InlineData("Connection: upgrade", false)]
    public void Parse_Upgrade_DetectedExceptH2c(string fields, bool isUpgrade)
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single(Ok + fields + "\r\n\r\n"), head, out _, out _);

        Assert.Equal(isUpgrade, head.IsUpgradeRequest);
    }

    [Theory]
    [InlineData("Expect: 100-continue", true)]
    [InlineData("Expect: 100-Continue", true)]
    [InlineData("Expect: something", false)]
    public void Parse_Expect_Flagged(string field, bool expectContinue)
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n" + field + "\r\n\r\n"), head, out _, out _);

        Assert.Equal(expectContinue, head.ExpectContinue);
    }

    [Fact]
    public void Parse_Http10KeepAlive_OnlyWhenAsked()
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single("GET / HTTP/1.0\r\n\r\n"), head, out _, out _);
        Assert.False(head.KeepAlive);

        HttpRequestParser.Parse(Sequences.Single("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), head, out _, out _);
        Assert.Equal(HttpProtocolVersion.Http10, head.Version);
        Assert.True(head.KeepAlive);
    }

    [Fact]
    public void Parse_ReusedHeadAfterError_ParsesNextCleanly()
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single("GET / HTTP/9.9\r\n\r\n"), head, out _, out _);
        var status = HttpRequestParser.Parse(Sequences.Single(Ok + "\r\n"), head, out _, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        Assert.Equal(0, head.ErrorStatusCode);
        Assert.Null(head.ErrorReason);
    }

    [Fact]
    public void Parse_KnownHeaders_Classified()
    {
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single(Ok + "content-length: 0\r\nX-Forwarded-For: 1.1.1.1\r\nAccept: */*\r\n\r\n"), head, out _, out _);

        Assert.Equal(KnownHeader.Host, head.GetKnownHeader(0));
        Assert.Equal(KnownHeader.ContentLength, head.GetKnownHeader(1));
        Assert.Equal(KnownHeader.XForwardedFor, head.GetKnownHeader(2));
        Assert.Equal(KnownHeader.Other, head.GetKnownHeader(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => head.GetKnownHeader(4));
    }

    private static Outcome ParseOnce(string raw)
    {
        using var head = new HttpRequestHead();
        return Run(Sequences.Single(raw), head);
    }
}
