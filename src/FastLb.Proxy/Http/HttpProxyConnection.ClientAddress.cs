using System.Net;
using FastLb.Proxy.Tcp;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>The request's client for hashing and logs: the peer, or from a trusted proxy the client its X-Forwarded-For names.</summary>
    /// <remarks>Parsed per request only when the peer is a trusted proxy; an untrusted peer's address is computed once per connection.</remarks>
    private IPAddress? EffectiveClientAddress()
    {
        var peer = _socket.RemoteEndPoint?.Address;
        if (peer is null || !_peerTrusted) return peer;
        var client = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
        var request = _request;
        for (var i = request.HeaderCount - 1; i >= 0; i--)
        {
            if (request.GetKnownHeader(i) != KnownHeader.XForwardedFor) continue;
            if (_listener.ClientAddresses.Resolve(request.GetHeaderValue(i), ref client)) break;
        }
        return client;
    }

    /// <summary>The client-ip balancing hash of the request in flight (see <see cref="EffectiveClientAddress"/>).</summary>
    private ulong ClientHash() => _peerTrusted && EffectiveClientAddress() is { } client ? ClientIpHash.Compute(client) : _clientHash;
}
