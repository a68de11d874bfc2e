using System.Net.Sockets;
using System.Text;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>
/// A response bigger than every buffer on the way, to a client that reads slowly, on a connection that closes after
/// it: the tail still queued in FastLb (and, on io_uring, in a send in flight) when the backend is done and the
/// connection ends must reach the client whole before the close.
/// </summary>
public class SlowClientResponseTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const int BodyLength = 3 * 1024 * 1024;

    private static byte[] Body()
    {
        var body = new byte[BodyLength];
        for (var i = 0; i < body.Length; i++) body[i] = (byte)('a' + i % 26);
        return body;
    }

    [Theory]
    [InlineData("length")]
    [InlineData("close-delimited")]
    public async Task LargeResponseThenClose_SlowClient_ReceivesEveryByteThenEof(string framing)
    {
        var body = Body();
        BackendResponder responder = async (request, connection, ct) =>
        {
            var head = framing == "length"
                ? $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"; // ends where the backend closes
            await connection.SendAsync(head, ct);
            await connection.SendAsync(body, ct);
            return false; // the backend closes right after its last byte
        };
        await using var backend = RawHttpBackend.Start("big-1", responder);
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml(backend));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.ReceiveBufferSize = 4096; // keep FastLb's sends blocked on a full socket buffer
        await client.ConnectAsync(lb.EndPoint).WaitAsync(Timeout);
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")).WaitAsync(Timeout);

        // Read slowly at first, until the backend has sent everything and closed, then drain to the end.
        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        var reads = 0;
        while (true)
        {
            var n = await client.ReceiveAsync(buffer).WaitAsync(Timeout);
            if (n == 0) break;
            received.Write(buffer, 0, n);
            if (++reads < 40) await Task.Delay(20);
        }

        var text = received.ToArray();
        var headEnd = text.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(headEnd > 0, "no response head");
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(text, 0, headEnd));
        var got = text.AsSpan(headEnd + 4);
        Assert.True(got.Length == body.Length, $"the client received {got.Length} of {body.Length} body bytes before the close");
        Assert.True(got.SequenceEqual(body), "the body arrived changed");
    }
}
