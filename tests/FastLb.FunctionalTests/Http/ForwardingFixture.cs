using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// FastLb in front of "fwd-1", a backend whose answer depends on the path (interim responses, HEAD/204/304,
/// close-delimited, hop-by-hop headers, invalid framing), and "auth-1" behind a host route for absolute-form targets.
/// </summary>
public sealed class ForwardingFixture : IAsyncLifetime
{
    /// <summary>The body of /close-delimited: large enough to take many reads.</summary>
    internal static readonly string CloseDelimitedBody = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i:D5}\n"));

    /// <summary>Paths answered with a response whose framing is invalid, and the response.</summary>
    internal static readonly Dictionary<string, string> BadResponses = new()
    {
        ["/bad/cl-abc"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: abc\r\n\r\nhello",
        ["/bad/cl-list"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: 5, 10\r\n\r\nhello",
        ["/bad/cl-negative"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: -1\r\n\r\nhello",
        ["/bad/cl-two-lines"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello",
        ["/bad/cl-plus"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: +5\r\n\r\nhello",
        ["/bad/te-xchunked"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ["/bad/te-two-lines"] = "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ["/bad/status-line"] = "HTTP/1.1 2000 OK\r\nx-backend: fwd-1\r\nContent-Length: 5\r\n\r\nhello",
        ["/bad/not-http"] = "SSH-2.0-OpenSSH_9.6\r\n\r\n",
    };

    internal RawHttpBackend Backend { get; private set; } = null!;
    internal RawHttpBackend Authority { get; private set; } = null!;
    internal HttpLb Lb { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Backend = RawHttpBackend.Start("fwd-1", RespondAsync);
        Authority = RawHttpBackend.Start("auth-1");
        Lb = await HttpLb.StartAsync($"""
            defaults:
              connect_timeout: 1s
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes:
                  - match: {"{"} host: routed.example.com {"}"}
                    service: authority
                  - service: fwd
            services:
              fwd:
                active: main
                pools:
                  main:
                    - {Backend.EndPoint}
              authority:
                active: main
                pools:
                  main:
                    - {Authority.EndPoint}
            """);
    }

    private static async Task<bool> RespondAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        var path = request.Target;
        if (BadResponses.TryGetValue(path, out var bad))
        {
            await connection.SendAsync(bad, ct);
            return true; // keep the connection open: reusing it would be the proxy's mistake
        }
        switch (path)
        {
            case "/early-hints":
                await connection.SendAsync("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n", ct);
                await Task.Delay(20, ct);
                await connection.SendAsync(RawHttpBackend.Ok("fwd-1", "final"), ct);
                return true;
            case "/head":
                await connection.SendAsync("HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: 1000\r\n\r\n", ct);
                return true;
            case "/204":
                await connection.SendAsync("HTTP/1.1 204 No Content\r\nx-backend: fwd-1\r\n\r\n", ct);
                return true;
            case "/304":
                await connection.SendAsync("HTTP/1.1 304 Not Modified\r\nx-backend: fwd-1\r\nETag: \"v1\"\r\nContent-Length: 50\r\n\r\n", ct);
                return true;
            case "/close-delimited":
                await connection.SendAsync("HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Type: text/plain\r\n\r\n", ct);
                await connection.SendAsync(Encoding.ASCII.GetBytes(CloseDelimitedBody), ct);
                return false;
            case "/hop":
                await connection.SendAsync(
                    "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=99\r\n"
                    + "Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok", ct);
                return true;
            case "/cl-and-te":
                await connection.SendAsync(
                    "HTTP/1.1 200 OK\r\nx-backend: fwd-1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ct);
                return true;
            default:
                await connection.SendAsync(RawHttpBackend.Ok("fwd-1", request.Method == "HEAD" ? "" : $"{request.Method} {path}"), ct);
                return true;
        }
    }

    public async Task DisposeAsync()
    {
        await Lb.DisposeAsync();
        await Backend.DisposeAsync();
        await Authority.DisposeAsync();
    }
}
