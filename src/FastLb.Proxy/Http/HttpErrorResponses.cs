using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>FastLb's own answers (404, 502, 503, 504, parse errors), pre-encoded once: a short text body and a clear reason.</summary>
internal static class HttpErrorResponses
{
    private static readonly byte[][] KeepAlive = new byte[600][];
    private static readonly byte[][] Close = new byte[600][];

    static HttpErrorResponses()
    {
        Add(400, "Bad Request", "bad request\n");
        Add(404, "Not Found", "no route matches this request\n");
        Add(405, "Method Not Allowed", "method not allowed\n", "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH\r\n");
        Add(408, "Request Timeout", "request head not received in time\n");
        Add(414, "URI Too Long", "request line too long\n");
        Add(431, "Request Header Fields Too Large", "request header fields too large\n");
        Add(500, "Internal Server Error", "internal proxy error\n");
        Add(502, "Bad Gateway", "backend connection failed or sent an invalid response\n");
        Add(503, "Service Unavailable", "no backend available\n");
        Add(504, "Gateway Timeout", "backend did not answer in time\n");
        Add(505, "HTTP Version Not Supported", "HTTP version not supported\n");
    }

    /// <summary>The full response for <paramref name="status"/>; unknown codes answer 400 or 502 by class.</summary>
    public static byte[] Get(int status, bool close)
    {
        var table = close ? Close : KeepAlive;
        if ((uint)status < (uint)table.Length && table[status] is { } bytes) return bytes;
        return table[status is >= 400 and < 500 ? 400 : 502];
    }

    private static void Add(int status, string reason, string body, string extra = "")
    {
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\n{extra}";
        KeepAlive[status] = Encoding.ASCII.GetBytes(head + "\r\n" + body);
        Close[status] = Encoding.ASCII.GetBytes(head + "Connection: close\r\n\r\n" + body);
    }
}
