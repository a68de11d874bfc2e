using System.Net;
using FastLb.Core.ProxyProtocol;
using FastLb.Core.Routing;
using FastLb.Proxy.Tcp;
using FastLb.Proxy.Tls;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>The request's client for hashing and logs: the peer, or from a trusted proxy the client its X-Forwarded-For names.</summary>
    /// <remarks>Parsed per request only when the peer is a trusted proxy; an untrusted peer's address is computed once per connection.</remarks>
    private IPAddress? EffectiveClientAddress()
    {
        var peer = _peer?.Address;
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

    /// <summary>send_proxy: an upstream connection that carried this client's PROXY header, to reuse for its next request to <paramref name="backend"/>.</summary>
    private UpstreamConnection? TakeOwnUpstream(BackendState backend, UpstreamTls? tls)
    {
        var own = _ownUpstream;
        if (own is null) return null;
        _ownUpstream = null;
        if (ReferenceEquals(own.Backend, backend) && UpstreamTls.SameSettings(own.Tls, tls) && own.IsIdleUsable())
        {
            own.Reused = true;
            return own;
        }
        own.Discard();
        return null;
    }

    /// <summary>
    /// Writes the PROXY header for this client ahead of anything else on a fresh upstream connection: into the socket's
    /// own writer, so under TLS it goes out in plain text before the handshake (which flushes it).
    /// </summary>
    private void WriteProxyHeader(UpstreamConnection upstream, int version)
    {
        var destination = _proxiedDestination;
        if (destination is null && _peer is not null) destination = _proxiedDestination = _socket.LocalEndPoint();
        var output = upstream.Connection.Output;
        var span = output.GetSpan(ProxyHeaderWriter.MaxLength);
        output.Advance(ProxyHeaderWriter.Write(span, version, _peer, destination));
        upstream.ProxyHeaderSent = true;
    }

    /// <summary>The client-ip balancing hash of the request in flight (see <see cref="EffectiveClientAddress"/>).</summary>
    private ulong ClientHash() => _peerTrusted && EffectiveClientAddress() is { } client ? ClientIpHash.Compute(client) : _clientHash;
}
