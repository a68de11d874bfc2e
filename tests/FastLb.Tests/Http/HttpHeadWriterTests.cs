using System.Buffers;
using System.Text;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class HttpHeadWriterTests
{
    private static string WriteRequest(string raw, string clientIp = "10.1.2.3", string scheme = "http", string hostOverride = "", bool allowUpgrade = false, bool close = false, bool trusted = false)
    {
        using var head = new HttpRequestHead();
        Assert.Equal(HttpParseStatus.Complete, HttpRequestParser.Parse(Sequences.Single(raw), head, out _, out _));
        var output = new ArrayBufferWriter<byte>();
        var options = new RequestHeadOptions
        {
            ClientAddress = Encoding.ASCII.GetBytes(clientIp),
            Scheme = Encoding.ASCII.GetBytes(scheme),
            HostOverride = Encoding.ASCII.GetBytes(hostOverride),
            AllowUpgrade = allowUpgrade,
            ConnectionClose = close,
            TrustForwarded = trusted,
        };
        HttpHeadWriter.WriteRequestHead(output, head, options);
        return Encoding.Latin1.GetString(output.WrittenSpan);
    }

    private static string WriteResponse(string raw, HttpMethodKind method = HttpMethodKind.Get, bool allowUpgrade = false, bool close = false, bool keepAlive = false)
    {
        using var head = new HttpResponseHead();
        Assert.Equal(HttpParseStatus.Complete, HttpResponseParser.Parse(Sequences.Single(raw), method, head, out _, out _));
        var output = new ArrayBufferWriter<byte>();
        HttpHeadWriter.WriteResponseHead(output, head, new ResponseHeadOptions { AllowUpgrade = allowUpgrade, ConnectionClose = close, ConnectionKeepAlive = keepAlive });
        return Encoding.Latin1.GetString(output.WrittenSpan);
    }

    [Fact]
    public void WriteRequestHead_BrowserRequest_HopByHopDroppedForwardedAdded()
    {
        var written = WriteRequest(SampleHeads.BrowserRequest);

        Assert.Equal(
            "GET /products/list?page=2&sort=price HTTP/1.1\r\n" +
            "Host: shop.example.com\r\n" +
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
            "Accept-Language: en-US,en;q=0.9\r\n" +
            "Accept-Encoding: gzip, deflate, br\r\n" +
            "Referer: https://shop.example.com/\r\n" +
            "Cookie: session=abc123; theme=dark; _ga=GA1.2.3\r\n" +
            "Upgrade-Insecure-Requests: 1\r\n" +
            "Sec-Fetch-Dest: document\r\n" +
            "Sec-Fetch-Mode: navigate\r\n" +
            "Sec-Fetch-Site: same-origin\r\n" +
            "Cache-Control: max-age=0\r\n" +
            "X-Forwarded-For: 10.1.2.3\r\n" +
            "X-Forwarded-Proto: http\r\n" +
            "X-Forwarded-Host: shop.example.com\r\n" +
            "\r\n",
            written);
    }

    [Fact]
    public void WriteRequestHead_Row23_H2cAndConnectionNamedHeadersDropped()
    {
        var written = WriteRequest(
            "GET /p HTTP/1.1\r\nHost: a.example\r\nConnection: close, X-Forwarded-For, X-Secret, Upgrade, HTTP2-Settings\r\n" +
            "X-Secret: 1\r\nX-Forwarded-For: 6.6.6.6\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\nKeep-Alive: timeout=5\r\n" +
            "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nAccept: */*\r\n\r\n",
            allowUpgrade: true);

        Assert.Equal(
            "GET /p HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n" +
            "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a.example\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteRequestHead_ExistingForwardedForFromTrustedProxy_PeerAppended()
    {
        var written = WriteRequest("GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nHost: a\r\nx-forwarded-for: 2.2.2.2, 3.3.3.3\r\n"
                                   + "Forwarded: for=1.1.1.1\r\nX-Real-IP: 1.1.1.1\r\n\r\n", trusted: true);

        Assert.Contains("\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.2.3\r\n", written);
        Assert.Single(written.Split("X-Forwarded-For", StringSplitOptions.None)[1..]);
        Assert.Contains("\r\nForwarded: for=1.1.1.1\r\n", written);
        Assert.Contains("\r\nX-Real-IP: 1.1.1.1\r\n", written);
    }

    [Fact]
    public void WriteRequestHead_ForwardedHeadersFromUntrustedClient_ReplacedAndStripped()
    {
        var written = WriteRequest("GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nHost: a\r\nforwarded: for=6.6.6.6\r\n"
                                   + "x-real-ip: 6.6.6.6\r\nX-Kept: 1\r\n\r\n");

        Assert.Contains("\r\nX-Forwarded-For: 10.1.2.3\r\n", written);
        Assert.Single(written.Split("X-Forwarded-For", StringSplitOptions.None)[1..]);
        Assert.DoesNotContain("6.6.6.6", written);
        Assert.DoesNotContain("1.1.1.1", written);
        Assert.Contains("\r\nX-Kept: 1\r\n", written);
    }

    [Fact]
    public void WriteRequestHead_AbsoluteForm_OriginFormAndHostFromTarget()
    {
        // Row 19.
        var written = WriteRequest("GET http://b.example:8080?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n", scheme: "https");

        Assert.Equal(
            "GET /?q=1 HTTP/1.1\r\nHost: b.example:8080\r\n" +
            "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: b.example:8080\r\n\r\n",
            written);
    }

    [Theory]
    [InlineData("GET http://b.example HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\n")]
    [InlineData("GET http://b.example/x/y HTTP/1.1\r\nHost: a\r\n\r\n", "GET /x/y HTTP/1.1\r\n")]
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1\r\n")]
    [InlineData("GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\n")]
    public void WriteRequestHead_RequestLine_Normalised(string raw, string expectedLine)
    {
        Assert.StartsWith(expectedLine, WriteRequest(raw));
    }

    [Fact]
    public void WriteRequestHead_HostOverride_HostRewrittenForwardedHostKept()
    {
        var written = WriteRequest("GET / HTTP/1.1\r\nHost: public.example\r\n\r\n", hostOverride: "10.0.0.1:8080");

        Assert.Contains("\r\nHost: 10.0.0.1:8080\r\n", written);
        Assert.Contains("\r\nX-Forwarded-Host: public.example\r\n", written);
    }

    [Fact]
    public void WriteRequestHead_FramingNamedInConnection_StillWrittenFromParsedValue()
    {
        // A client must not be able to strip the framing the proxy parsed (desync).
        var written = WriteRequest("POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host\r\nContent-Length: 42, 42\r\n\r\n");

        Assert.Contains("\r\nContent-Length: 42\r\n", written);
        Assert.Contains("\r\nHost: a\r\n", written);
    }

    [Fact]
    public void WriteRequestHead_Chunked_TransferEncodingReadded()
    {
        var written = WriteRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");

        Assert.Contains("\r\nTransfer-Encoding: chunked\r\n", written);
        Assert.DoesNotContain("Content-Length", written);
    }

    [Fact]
    public void WriteRequestHead_WebSocketUpgradeAllowed_UpgradeForwarded()
    {
        const string raw = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Key: k\r\n\r\n";

        var allowed = WriteRequest(raw, allowUpgrade: true);
        Assert.Contains("\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\nUpgrade: websocket\r\n", allowed);

        var refused = WriteRequest(raw, allowUpgrade: false);
        Assert.DoesNotContain("Upgrade:", refused);
        Assert.DoesNotContain("Connection:", refused);
    }

    [Fact]
    public void WriteRequestHead_ConnectionClose_Written()
    {
        Assert.Contains("\r\nConnection: close\r\n", WriteRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", close: true));
    }

    [Fact]
    public void WriteRequestHead_LargeHead_SpansRefilled()
    {
        string big = new('v', 10_000);
        using var head = new HttpRequestHead();
        HttpRequestParser.Parse(Sequences.Single($"GET / HTTP/1.1\r\nHost: a\r\nX-1: {big}\r\nX-2: {big}\r\n\r\n"), head, out _, out _);
        var output = new TinySpanBufferWriter();

        HttpHeadWriter.WriteRequestHead(output, head, new RequestHeadOptions());

        Assert.Equal($"GET / HTTP/1.1\r\nHost: a\r\nX-1: {big}\r\nX-2: {big}\r\nX-Forwarded-Host: a\r\n\r\n", Encoding.ASCII.GetString(output.WrittenBytes));
        Assert.True(output.GetSpanCalls > 1);
    }

    [Fact]
    public void WriteResponseHead_TypicalResponse_ConnectionDroppedRestKept()
    {
        var written = WriteResponse(SampleHeads.TypicalResponse);

        Assert.Equal(
            "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 10:00:00 GMT\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n" +
            "Cache-Control: private, max-age=0\r\nSet-Cookie: session=abc123; Path=/; HttpOnly; Secure\r\nVary: Accept-Encoding\r\n" +
            "Content-Length: 5120\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteResponseHead_ContentLengthAndChunked_OnlyChunkedForwarded()
    {
        var written = WriteResponse(
            "HTTP/1.0 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\nConnection: X-Int\r\nX-Int: 1\r\nTrailer: X-T\r\n\r\n",
            close: true);

        Assert.Equal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", written);
    }

    [Fact]
    public void WriteResponseHead_EmptyReason_StatusLineStillWellFormed()
    {
        Assert.Equal("HTTP/1.1 204 \r\nConnection: keep-alive\r\n\r\n", WriteResponse("HTTP/1.1 204\r\n\r\n", keepAlive: true));
    }

    [Fact]
    public void WriteResponseHead_SwitchingProtocols_UpgradeKeptWhenTunnelling()
    {
        const string raw = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n";

        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            WriteResponse(raw, allowUpgrade: true));
        Assert.DoesNotContain("Upgrade:", WriteResponse(raw, allowUpgrade: false));
    }

    [Fact]
    public void WriteResponseHead_HeadResponse_ContentLengthKept()
    {
        Assert.Contains("\r\nContent-Length: 5\r\n", WriteResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HttpMethodKind.Head));
    }
}
