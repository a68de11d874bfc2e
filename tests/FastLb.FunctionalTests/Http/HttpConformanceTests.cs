using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>Every row of docs/http-conformance.md about client input: FastLb's answer, the connection's fate, and what reached the backend.</summary>
public sealed class HttpConformanceTests(ConformanceFixture fixture) : IClassFixture<ConformanceFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(3);
    private const string Get = "GET / HTTP/1.1\r\nHost: test\r\n";
    private const string Post = "POST / HTTP/1.1\r\nHost: test\r\n";
    private const string Chunked = Post + "Transfer-Encoding: chunked\r\n\r\n";

    /// <summary>Pipelined after every rejected request (row 22): it must never be answered nor reach the backend.</summary>
    private const string After = "GET /after-reject HTTP/1.1\r\nHost: test\r\n\r\n";

    private RawHttpBackend Backend => fixture.Backend;

    public Task InitializeAsync()
    {
        Backend.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Requests rejected on their head: row, raw request, allowed statuses.</summary>
    public static TheoryData<string, string, string> HeadRejections => new()
    {
        { "01 CL then TE chunked", Post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "01 TE chunked then CL (smuggling shape)", Post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", "400" },
        { "02 two CL lines 5 and 10", Post + "Content-Length: 5\r\nContent-Length: 10\r\n\r\nhello", "400" },
        { "02 CL list 5, 10", Post + "Content-Length: 5, 10\r\n\r\nhello", "400" },
        { "04 CL +5", Post + "Content-Length: +5\r\n\r\nhello", "400" },
        { "04 CL -1", Post + "Content-Length: -1\r\n\r\n", "400" },
        { "04 CL 0x10", Post + "Content-Length: 0x10\r\n\r\n0123456789abcdef", "400" },
        { "04 CL 1_0", Post + "Content-Length: 1_0\r\n\r\n0123456789", "400" },
        { "04 CL '1 0'", Post + "Content-Length: 1 0\r\n\r\n0123456789", "400" },
        { "04 CL 2^63", Post + "Content-Length: 9223372036854775808\r\n\r\nhello", "400" },
        { "04 CL 2^64+1", Post + "Content-Length: 18446744073709551617\r\n\r\nhello", "400" },
        { "04 CL 30 digits", Post + "Content-Length: 100000000000000000000000000005\r\n\r\nhello", "400" },
        { "05 TE gzip", Post + "Transfer-Encoding: gzip\r\n\r\nhello", "400" },
        { "05 TE chunked, gzip", Post + "Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "06 TE chunked, chunked", Post + "Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "06 two TE lines", Post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "07 TE xchunked", Post + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "07 TE chunked + control char", Post + "Transfer-Encoding: chunked\u0001\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "07 TE space before colon", Post + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400" },
        { "07 CL space before colon", Post + "Content-Length : 5\r\n\r\nhello", "400" },
        { "11 bare LF everywhere", "GET / HTTP/1.1\nHost: test\n\n", "400" },
        { "11 bare LF after request line", "GET / HTTP/1.1\nHost: test\r\n\r\n", "400" },
        { "11 bare LF after a header", Get + "X-A: 1\nX-B: 2\r\n\r\n", "400" },
        { "12 bare CR in header value", Get + "X-A: a\rb\r\n\r\n", "400" },
        { "13 NUL in header value", Get + "X-A: a\0b\r\n\r\n", "400" },
        { "13 LF in header value", Get + "X-A: a\nb\r\n\r\n", "400" },
        { "14 obs-fold with space", Get + "X-A: a\r\n b\r\n\r\n", "400" },
        { "14 obs-fold with tab", Get + "X-A: a\r\n\tb\r\n\r\n", "400" },
        { "15 whitespace line before first header", "GET / HTTP/1.1\r\n \r\nHost: test\r\n\r\n", "400" },
        { "15 first header line starts with space", "GET / HTTP/1.1\r\n Host: test\r\n\r\n", "400" },
        { "16 non-token char in name", Get + "X(A): 1\r\n\r\n", "400" },
        { "16 space inside name", Get + "X A: 1\r\n\r\n", "400" },
        { "16 empty name", Get + ": 1\r\n\r\n", "400" },
        { "16 no colon", Get + "NoColon\r\n\r\n", "400" },
        { "17 no Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", "400" },
        { "17 two Host lines", "GET / HTTP/1.1\r\nHost: test\r\nHost: other\r\n\r\n", "400" },
        { "17 two identical Host lines", "GET / HTTP/1.1\r\nHost: test\r\nHost: test\r\n\r\n", "400" },
        { "17 Host a,b", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", "400" },
        { "17 Host with userinfo", "GET / HTTP/1.1\r\nHost: user@test\r\n\r\n", "400" },
        { "17 Host with a path", "GET / HTTP/1.1\r\nHost: test/path\r\n\r\n", "400" },
        { "18 target * with GET", "GET * HTTP/1.1\r\nHost: test\r\n\r\n", "400" },
        { "18 authority-form with GET", "GET test:80 HTTP/1.1\r\nHost: test\r\n\r\n", "400" },
        { "18 target without slash", "GET admin HTTP/1.1\r\nHost: test\r\n\r\n", "400" },
        { "20 HTTP/1.32", "GET / HTTP/1.32\r\nHost: test\r\n\r\n", "400|505" },
        { "20 HTTP/01.1", "GET / HTTP/01.1\r\nHost: test\r\n\r\n", "400|505" },
        { "20 http/1.1 lower-case", "GET / http/1.1\r\nHost: test\r\n\r\n", "400|505" },
        { "20 double space after method", "GET  / HTTP/1.1\r\nHost: test\r\n\r\n", "400|505" },
        { "20 double space before version", "GET /  HTTP/1.1\r\nHost: test\r\n\r\n", "400|505" },
        { "21 request line over 8 KiB", "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: test\r\n\r\n", "414" },
        { "21 head over 32 KiB", Get + Repeat(40, i => $"X-Big-{i:D2}: {new string('b', 1000)}\r\n") + "\r\n", "431" },
        { "21 over 100 header lines", Get + Repeat(120, i => $"X-N-{i}: 1\r\n") + "\r\n", "431" },
    };

    /// <summary>Requests whose head is fine but whose chunked body is malformed: row, raw request.</summary>
    public static TheoryData<string, string> BodyRejections => new()
    {
        { "09 chunk size Z", Chunked + "Z\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size 0x5", Chunked + "0x5\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size -1", Chunked + "-1\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size ' 5'", Chunked + " 5\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size 5_0", Chunked + "5_0\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size 17 hex digits", Chunked + "00000000000000005\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size over 64 bits", Chunked + "10000000000000005\r\nhello\r\n0\r\n\r\n" },
        { "10 chunk data longer than its size", Chunked + "5\r\nhelloEXTRA\r\n0\r\n\r\n" },
        { "10 no CRLF after chunk data", Chunked + "5\r\nhello0\r\n\r\n" },
        { "11 bare LF after chunk size", Chunked + "5\nhello\r\n0\r\n\r\n" },
        { "12 bare CR in chunk extension", Chunked + "5;ext=a\rb\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size 21 f", Chunked + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size zz", Chunked + "zz\r\nhello\r\n0\r\n\r\n" },
        { "09 chunk size -5", Chunked + "-5\r\nhello\r\n0\r\n\r\n" },
        { "10 chunk data then XX instead of CRLF", Chunked + "5\r\nhelloXX0\r\n\r\n" },
        { "11 bare LF after last chunk", Chunked + "5\r\nhello\r\n0\n\r\n" },
        { "12 chunk extension over 4 KiB", Chunked + "5;" + new string('a', 5000) + "\r\nhello\r\n0\r\n\r\n" },
        { "12 bad chunk after a good one", Chunked + "3\r\nabc\r\nzz\r\nhello\r\n0\r\n\r\n" },
    };

    /// <summary>Well-formed requests around the same edges: they must be forwarded and answered (and the body arrive intact).</summary>
    public static TheoryData<string, string, string> WellFormed => new()
    {
        { "plain GET", Get + "\r\n", "GET / body=" },
        { "Host with port and upper case", "GET /p HTTP/1.1\r\nHost: TEST:8080\r\n\r\n", "GET /p body=" },
        { "Content-Length body", Post + "Content-Length: 5\r\n\r\nhello", "POST / body=hello" },
        { "chunked body", Chunked + "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", "POST / body=hello" },
        { "chunked with extension", Chunked + "5;name=value\r\nhello\r\n0\r\n\r\n", "POST / body=hello" },
        { "chunked upper-case hex and trailer", Chunked + "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", "POST / body=0123456789" },
        { "TE value case-insensitive", Post + "Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST / body=hello" },
        { "tab inside a header value", Get + "X-A: a\tb\r\n\r\n", "GET / body=" },
    };

    [Theory]
    [MemberData(nameof(HeadRejections))]
    public async Task Request_MalformedHead_RejectedClosedAndNothingReachesBackend(string row, string request, string statuses)
    {
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(request + After).WaitAsync(Timeout);

        var response = await ReadOrFailAsync(client, row);
        Assert.True(statuses.Split('|').Contains(response.Status.ToString()),
            $"row {row}: expected {statuses}, got {response.Status}\n{response}");
        Assert.Null(response.Backend);
        await AssertClosedWithNothingMoreAsync(client, row);
        await Task.Delay(50);
        Assert.True(Backend.AcceptedConnections == 0 && Backend.ReceivedByteCount == 0,
            $"row {row}: backend got {Backend.AcceptedConnections} connection(s) and {Backend.ReceivedByteCount} bytes:\n{Backend.ReceivedText}");
    }

    [Theory]
    [MemberData(nameof(BodyRejections))]
    public async Task Request_MalformedChunkedBody_400ClosedAndNothingReachesBackend(string row, string request)
    {
        // The body came with the head, so FastLb sees the bad framing before it sends anything: the backend gets
        // neither the head nor a byte of the body, and the pipelined request after it is never parsed.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(request + After).WaitAsync(Timeout);

        var response = await ReadOrFailAsync(client, row);
        Assert.True(response.Status == 400, $"row {row}: expected 400, got {response.Status}\n{response}");
        await AssertClosedWithNothingMoreAsync(client, row);
        await Task.Delay(50);
        Assert.True(Backend.AcceptedConnections == 0 && Backend.ReceivedByteCount == 0,
            $"row {row}: backend got {Backend.AcceptedConnections} connection(s) and {Backend.ReceivedByteCount} bytes:\n{Backend.ReceivedText}");
    }

    [Theory]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("XX\r\n0\r\n\r\n")]
    [InlineData("0;a\rb\r\n\r\n")]
    public async Task Request_BadChunkLineAfterStreamedChunk_NoByteOfItReachesBackend(string rest)
    {
        // A body that streams: the head and the first chunk went upstream; the rejected line (and what follows) must not.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(Chunked + "3\r\nabc").WaitAsync(Timeout);
        await HttpLb.WaitUntilAsync(() => Task.FromResult(Backend.ReceivedText.EndsWith("3\r\nabc", StringComparison.Ordinal)), "the first chunk reached the backend");
        var forwarded = Backend.ReceivedByteCount;

        await client.SendAsync("\r\n" + rest + After).WaitAsync(Timeout);

        var response = await ReadOrFailAsync(client, rest);
        Assert.Equal(400, response.Status);
        await AssertClosedWithNothingMoreAsync(client, rest);
        await Task.Delay(50);
        Assert.True(Backend.ReceivedByteCount == forwarded, $"backend got bytes of the rejected chunk line:\n{Backend.ReceivedText}");
        Assert.True(Backend.Requests.IsEmpty);
    }

    [Fact]
    public async Task Request_SlowFirstChunkLineInvalid_HeadForwardedButNoByteOfTheLine()
    {
        // The first chunk line is late (past the hold): the head goes upstream alone, the bad line never does.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(Chunked).WaitAsync(Timeout);
        await HttpLb.WaitUntilAsync(() => Task.FromResult(Backend.ReceivedText.EndsWith("\r\n\r\n", StringComparison.Ordinal)), "the head reached the backend");
        var forwarded = Backend.ReceivedByteCount;

        await client.SendAsync("0x5\r\nhello\r\n0\r\n\r\n").WaitAsync(Timeout);

        Assert.Equal(400, (await ReadOrFailAsync(client, "slow 0x5")).Status);
        await AssertClosedWithNothingMoreAsync(client, "slow 0x5");
        await Task.Delay(50);
        Assert.Equal(forwarded, Backend.ReceivedByteCount);
    }

    [Fact]
    public async Task Request_ChunkedBodyInManySmallWrites_ForwardedWhole()
    {
        // Chunk lines split across reads are held, then released whole: the body arrives intact.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(Chunked + "3").WaitAsync(Timeout);
        foreach (var part in new[] { ";e=", "1\r", "\nab", "c\r", "\n0", "\r\nT: 1", "\r\n", "\r\n" })
        {
            await Task.Delay(20);
            await client.SendAsync(part).WaitAsync(Timeout);
        }

        var response = await ReadOrFailAsync(client, "split");
        Assert.Equal("POST / body=abc", response.BodyText);
    }

    [Theory]
    [MemberData(nameof(WellFormed))]
    public async Task Request_WellFormedEdgeCase_ForwardedAndConnectionKeptOpen(string name, string request, string expectedBody)
    {
        await using var client = await fixture.Lb.ConnectAsync();

        var response = await client.RequestAsync(request).WaitAsync(Timeout);

        Assert.True(response.Status == 200, $"{name}: expected 200, got {response.Status}\n{response}");
        Assert.Equal(expectedBody, response.BodyText);
        var second = await client.GetAsync("/second").WaitAsync(Timeout);
        Assert.Equal("GET /second body=", second.BodyText);
    }

    [Fact]
    public async Task Request_RepeatedIdenticalContentLength_OneLengthForwardedOr400()
    {
        // Row 3: `5, 5` may be folded into one Content-Length, or rejected like any other conflict.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync(Post + "Content-Length: 5, 5\r\n\r\nhello").WaitAsync(Timeout);

        var response = await ReadOrFailAsync(client, "03");
        if (response.Status == 400)
        {
            await AssertClosedWithNothingMoreAsync(client, "03");
            Assert.Equal(0, Backend.ReceivedByteCount);
            return;
        }
        Assert.True(response.Status == 200, $"row 03: expected 200 or 400, got {response.Status}\n{response}");
        Assert.Equal("POST / body=hello", response.BodyText);
        var forwarded = Assert.Single(Backend.Requests);
        Assert.Equal(["5"], forwarded.Head.All("content-length"));
    }

    [Fact]
    public async Task Request_Http10WithTransferEncoding_400OrClosedAfterResponse()
    {
        // Row 8: either refuse, or answer and then close (HTTP/1.0 cannot keep a chunked connection in sync).
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync("POST / HTTP/1.0\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + After)
            .WaitAsync(Timeout);

        var response = await ReadOrFailAsync(client, "08");
        Assert.True(response.Status is 400 or 200, $"row 08: expected 400 or 200, got {response.Status}\n{response}");
        await AssertClosedWithNothingMoreAsync(client, "08");
        if (response.Status == 400) Assert.Equal(0, Backend.ReceivedByteCount);
        else Assert.Equal("POST / body=hello", response.BodyText);
        Assert.DoesNotContain("/after-reject", Backend.ReceivedText);
    }

    [Fact]
    public async Task Pipeline_ValidThenRejectedThenMore_FirstAnsweredRestNeverReachesBackend()
    {
        // Row 22 on a connection that already has history: answered in order, then the rejection ends it.
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync("GET /first HTTP/1.1\r\nHost: test\r\n\r\n"
                               + Post + "Content-Length: 1, 2\r\n\r\nab"
                               + "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);

        var first = await ReadOrFailAsync(client, "22 first");
        var rejected = await ReadOrFailAsync(client, "22 second");

        Assert.Equal(200, first.Status);
        Assert.Equal("GET /first body=", first.BodyText);
        Assert.Equal(400, rejected.Status);
        await AssertClosedWithNothingMoreAsync(client, "22");
        await Task.Delay(50);
        var received = Backend.ReceivedText;
        Assert.Single(Backend.Requests);
        Assert.DoesNotContain("1, 2", received);
        Assert.DoesNotContain("/smuggled", received);
    }

    [Fact]
    public async Task Pipeline_ThreeValidRequestsInOneWrite_AnsweredInOrder()
    {
        await using var client = await fixture.Lb.ConnectAsync();
        await client.SendAsync("GET /a HTTP/1.1\r\nHost: test\r\n\r\n"
                               + "POST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nbbb"
                               + "GET /c HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);

        Assert.Equal("GET /a body=", (await client.ReadFinalResponseAsync().WaitAsync(Timeout)).BodyText);
        Assert.Equal("POST /b body=bbb", (await client.ReadFinalResponseAsync().WaitAsync(Timeout)).BodyText);
        Assert.Equal("GET /c body=", (await client.ReadFinalResponseAsync().WaitAsync(Timeout)).BodyText);
    }

    private static async Task<HttpResponse> ReadOrFailAsync(HttpClientConnection client, string row)
    {
        try
        {
            return await client.ReadFinalResponseAsync().WaitAsync(Timeout);
        }
        catch (Exception e) when (e is EndOfStreamException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            Assert.Fail($"row {row}: no complete response before the connection ended ({e.GetType().Name}: {e.Message})");
            throw;
        }
    }

    private static async Task AssertClosedWithNothingMoreAsync(HttpClientConnection client, string row)
    {
        var (closed, extra) = await client.WaitForCloseAsync(CloseWithin).WaitAsync(Timeout);
        Assert.True(extra.Length == 0, $"row {row}: unexpected bytes after the response:\n{Encoding.Latin1.GetString(extra)}");
        Assert.True(closed, $"row {row}: connection still open {CloseWithin.TotalSeconds}s after the response");
    }

    private static string Repeat(int count, Func<int, string> line)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < count; i++) sb.Append(line(i));
        return sb.ToString();
    }
}
