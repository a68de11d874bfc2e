using System.Net;

namespace FastLb.Core.ProxyProtocol;

/// <summary>A listener's accept_proxy: which versions, from which peers, and how long the header may take.</summary>
internal sealed class AcceptProxyConfig
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    public ProxyVersions Versions { get; init; } = ProxyVersions.Both;

    /// <summary>Peers that must send the header; empty = every peer must.</summary>
    public IReadOnlyList<IPNetwork> Trusted { get; init; } = [];

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>True when a connection from <paramref name="peer"/> must start with a PROXY header.</summary>
    public bool Expects(IPAddress peer)
    {
        var trusted = Trusted;
        if (trusted.Count == 0) return true;
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4();
        for (var i = 0; i < trusted.Count; i++)
        {
            if (trusted[i].Contains(peer)) return true;
        }
        return false;
    }
}
