using System.Buffers;
using System.Net;
using FastLb.Core.ProxyProtocol;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Preamble;

/// <summary>Sends the PROXY protocol header (send_proxy) on a fresh backend connection, before any client byte.</summary>
internal static class ProxyHeaderSender
{
    /// <summary>Sends the whole header; false when the backend connection failed meanwhile.</summary>
    public static async ValueTask<bool> SendAsync(EpollSocket backend, int version, IPEndPoint? source, IPEndPoint? destination)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderWriter.MaxLength);
        try
        {
            var length = ProxyHeaderWriter.Write(buffer, version, source, destination);
            var sent = 0;
            while (sent < length)
            {
                var n = backend.Send(buffer.AsSpan(sent, length - sent));
                if (n > 0)
                {
                    sent += n;
                    continue;
                }
                if (!await backend.WaitWritableAsync().ConfigureAwait(false)) return false;
            }
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
