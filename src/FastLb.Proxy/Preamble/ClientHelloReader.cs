using System.Buffers;
using FastLb.Core.Routing;
using FastLb.Core.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Preamble;

/// <summary>TLS passthrough: peeks the ClientHello, without consuming a byte, and picks the service by its server name.</summary>
internal static class ClientHelloReader
{
    /// <summary>
    /// Peeks until the ClientHello is whole (bounded by <see cref="ClientHelloParser.MaxRecordBytes"/> and
    /// <paramref name="timeout"/>) and matches its SNI. Found is false when the ClientHello is malformed, cut short
    /// or late, or nothing matches and there is no default: the caller closes. Every byte stays queued for the relay.
    /// </summary>
    public static async ValueTask<(bool Found, string? Service)> RouteAsync(EpollSocket socket, SniRouteTable routes, TimeSpan timeout)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ClientHelloParser.MaxRecordBytes);
        var scratch = ArrayPool<byte>.Shared.Rent(ClientHelloParser.MaxHandshakeLength + 4);
        var deadline = SocketPeek.Arm(socket, timeout);
        try
        {
            var have = 0;
            while (true)
            {
                have = await SocketPeek.MoreAsync(socket, buffer, have).ConfigureAwait(false);
                if (have < 0) return (false, null);
                var service = Decide(buffer.AsSpan(0, Math.Min(have, ClientHelloParser.MaxRecordBytes)), scratch, routes, out var status);
                if (status == ClientHelloStatus.Invalid) return (false, null);
                if (status == ClientHelloStatus.Complete)
                {
                    deadline.Dispose();
                    if (deadline.Expired || service is null) return (false, null);
                    SocketPeek.HandOn(socket);
                    return (true, service);
                }
                if (have >= ClientHelloParser.MaxRecordBytes) return (false, null);
            }
        }
        finally
        {
            deadline.Dispose();
            ArrayPool<byte>.Shared.Return(scratch);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string? Decide(ReadOnlySpan<byte> data, byte[] scratch, SniRouteTable routes, out ClientHelloStatus status)
    {
        Span<byte> name = stackalloc byte[ClientHelloParser.MaxServerNameLength];
        status = ClientHelloParser.TryReadServerName(data, scratch, name, out var length);
        return status == ClientHelloStatus.Complete ? routes.Match(name[..length]) : null;
    }
}
