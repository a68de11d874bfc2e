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
        Add(421, "Misdirected Request", "the request's Host is not the server name this TLS connection was opened for\n");
        Add(431, "Request Header Fields Too Large", "request header fields too large\n");
        Add(500, "Internal Server Error", "internal proxy error\n");
        Add(502, "Bad Gateway", "backend connection failed or sent an invalid response\n");
        Add(503, "Service Unavailable", "no backend available\n");
        Add(504, "Gateway Timeout", "backend did not answer in time\n");
        Add(505, "HTTP Version Not Supported", "HTTP version not supported\n");
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Core.Routing.PoolSnapshot, byte[][]> Unavailable503 = new();

    /// <summary>
    /// The 503 for a pool with nothing healthy: Retry-After and a body naming the service and pool. Built once per
    /// pool snapshot (a table generation) and cached with it, so answering it allocates nothing.
    /// </summary>
    public static byte[] Unavailable(Core.Routing.ServiceSnapshot service, Core.Routing.PoolSnapshot pool, bool close)
    {
        if (!Unavailable503.TryGetValue(pool, out var both))
        {
            both = BuildUnavailable(service, pool);
            Unavailable503.AddOrUpdate(pool, both);
        }
        return both[close ? 1 : 0];
    }

    private static byte[][] BuildUnavailable(Core.Routing.ServiceSnapshot service, Core.Routing.PoolSnapshot pool)
    {
        // Retry after about one check interval: the earliest a backend can come back.
        var config = service.Config.FindPool(pool.Name);
        var interval = config is null ? null : service.Config.CheckFor(config)?.Interval;
        var retryAfter = interval is { } i ? Math.Max(1, (int)Math.Ceiling(i.TotalSeconds)) : 5;
        var body = $"no healthy backend in service '{service.Name}' pool '{pool.Name}'\n";
        var head = $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nRetry-After: {retryAfter}\r\n";
        return [Encoding.UTF8.GetBytes(head + "\r\n" + body), Encoding.UTF8.GetBytes(head + "Connection: close\r\n\r\n" + body)];
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
