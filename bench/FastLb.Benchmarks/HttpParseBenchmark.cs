using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using FastLb.Proxy.Http;

namespace FastLb.Benchmarks;

/// <summary>Head parsing and forwarding on reused per-connection objects, as the L7 proxy loop runs them.</summary>
[MemoryDiagnoser]
public class HttpParseBenchmark
{
    private const string BrowserRequest =
        "GET /products/list?page=2&sort=price HTTP/1.1\r\n" +
        "Host: shop.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
        "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Referer: https://shop.example.com/\r\n" +
        "Cookie: session=abc123; theme=dark; _ga=GA1.2.3\r\n" +
        "Connection: keep-alive\r\n" +
        "Sec-Fetch-Site: same-origin\r\n" +
        "Cache-Control: max-age=0\r\n" +
        "\r\n";

    private const string TypicalResponse =
        "HTTP/1.1 200 OK\r\n" +
        "Date: Thu, 26 Nov 2026 10:00:00 GMT\r\n" +
        "Server: nginx\r\n" +
        "Content-Type: text/html; charset=utf-8\r\n" +
        "Content-Length: 5120\r\n" +
        "Connection: keep-alive\r\n" +
        "Cache-Control: private, max-age=0\r\n" +
        "Set-Cookie: session=abc123; Path=/; HttpOnly; Secure\r\n" +
        "Vary: Accept-Encoding\r\n" +
        "\r\n";

    private readonly HttpRequestHead _requestHead = new();
    private readonly HttpResponseHead _responseHead = new();
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private readonly byte[] _clientAddress = "192.0.2.1"u8.ToArray();
    private ReadOnlySequence<byte> _request;
    private ReadOnlySequence<byte> _requestSplit;
    private ReadOnlySequence<byte> _response;

    [GlobalSetup]
    public void Setup()
    {
        var request = Encoding.ASCII.GetBytes(BrowserRequest);
        _request = new ReadOnlySequence<byte>(request);
        _requestSplit = TwoSegments(request, request.Length / 2);
        _response = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(TypicalResponse));
        // Warm the per-connection buffers so the measured calls are the steady state.
        ParseRequest();
        ParseRequestSplit();
        ParseResponse();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _requestHead.Dispose();
        _responseHead.Dispose();
    }

    [Benchmark(Baseline = true, Description = "request head 468 B")]
    public int ParseRequest() => (int)HttpRequestParser.Parse(_request, _requestHead, out _, out _);

    [Benchmark(Description = "request head, 2 segments")]
    public int ParseRequestSplit() => (int)HttpRequestParser.Parse(_requestSplit, _requestHead, out _, out _);

    [Benchmark(Description = "response head 269 B")]
    public int ParseResponse() => (int)HttpResponseParser.Parse(_response, HttpMethodKind.Get, _responseHead, out _, out _);

    [Benchmark(Description = "request parse + forward head")]
    public int ParseAndWriteRequest()
    {
        HttpRequestParser.Parse(_request, _requestHead, out _, out _);
        _output.ResetWrittenCount();
        HttpHeadWriter.WriteRequestHead(_output, _requestHead, new RequestHeadOptions { ClientAddress = _clientAddress, Scheme = "http"u8 });
        return _output.WrittenCount;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at));
        var second = first.Append(bytes.AsMemory(at));
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
