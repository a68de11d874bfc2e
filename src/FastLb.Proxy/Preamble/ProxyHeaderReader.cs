using System.Buffers;
using FastLb.Core.ProxyProtocol;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Preamble;

/// <summary>Reads and consumes the PROXY protocol header a trusted balancer sends before the client's bytes.</summary>
internal static class ProxyHeaderReader
{
    /// <summary>
    /// Peeks until the header is whole, then consumes exactly it, so the client's own bytes stay queued for whatever
    /// serves the connection next (the HTTP parser, or splice). Returns null when the header is malformed, missing,
    /// cut short, or not whole within the timeout: the caller closes the connection.
    /// </summary>
    public static async ValueTask<ProxyHeader?> ReadAsync(EpollSocket socket, AcceptProxyConfig config)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.MaxLength);
        var deadline = SocketPeek.Arm(socket, config.Timeout);
        try
        {
            var have = 0;
            while (true)
            {
                have = await SocketPeek.MoreAsync(socket, buffer, have).ConfigureAwait(false);
                if (have < 0) return null;
                var status = ProxyHeaderParser.TryParse(buffer.AsSpan(0, Math.Min(have, ProxyHeaderParser.MaxLength)), config.Versions, out var header, out var consumed);
                if (status == ProxyParseStatus.Invalid) return null;
                if (status == ProxyParseStatus.Complete)
                {
                    if (!SocketPeek.Consume(socket, buffer, consumed)) return null;
                    deadline.Dispose();
                    return deadline.Expired ? null : header; // the deadline won the race: the socket is already cut
                }
                if (have >= ProxyHeaderParser.MaxLength) return null;
            }
        }
        finally
        {
            deadline.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
