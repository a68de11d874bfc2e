using System.Net;
using System.Text;

namespace FastLb.Core.Routing;

/// <summary>
/// The one place that decides who a request's client is: the connection's peer, unless the peer is a trusted proxy, in
/// which case the forwarded chain it sent names the client. Used for X-Forwarded-For, client-ip hashing and logs.
/// </summary>
/// <remarks>
/// The chain is read right to left (the nearest hop last): every address that is itself a trusted proxy is skipped and
/// the first one that is not is the client. An entry that is not an IP address ends the walk at the last hop that was
/// understood, so a trusted proxy passing on garbage cannot make a client look like anyone it likes. A connection that
/// carries a PROXY protocol header from a trusted peer passes the header's source address as the peer.
/// </remarks>
internal sealed class ClientAddressRule(IReadOnlyList<IPNetwork> trustedProxies)
{
    /// <summary>No peer is trusted: every X-Forwarded-For is replaced by the peer's own address.</summary>
    public static readonly ClientAddressRule TrustNone = new([]);

    public IReadOnlyList<IPNetwork> TrustedProxies { get; } = trustedProxies;

    /// <summary>True when <paramref name="peer"/> is a trusted proxy whose forwarded headers are kept and appended to.</summary>
    public bool IsTrusted(IPAddress peer)
    {
        var networks = TrustedProxies;
        if (networks.Count == 0) return false;
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4();
        for (var i = 0; i < networks.Count; i++)
        {
            if (networks[i].Contains(peer)) return true;
        }
        return false;
    }

    /// <summary>
    /// Walks one X-Forwarded-For field value right to left, starting from <paramref name="client"/> (a trusted hop).
    /// Returns true when the walk ended: <paramref name="client"/> is then the client. False when every entry in it was
    /// a trusted proxy too, so an earlier field line (if any) continues the walk.
    /// </summary>
    public bool Resolve(ReadOnlySpan<byte> forwardedFor, ref IPAddress client)
    {
        Span<char> text = stackalloc char[64];
        while (!forwardedFor.IsEmpty)
        {
            var comma = forwardedFor.LastIndexOf((byte)',');
            var entry = Trim(comma < 0 ? forwardedFor : forwardedFor[(comma + 1)..]);
            forwardedFor = comma < 0 ? default : forwardedFor[..comma];
            if (entry.IsEmpty) continue;
            // Not an address: trust stops at the hop that sent it.
            if (entry.Length > text.Length) return true;
            var length = Encoding.ASCII.GetChars(entry, text);
            if (!IPAddress.TryParse(text[..length], out var hop)) return true;
            client = hop.IsIPv4MappedToIPv6 ? hop.MapToIPv4() : hop;
            if (!IsTrusted(client)) return true;
        }
        return false;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        var start = 0;
        while (start < s.Length && (s[start] == ' ' || s[start] == '\t')) start++;
        var end = s.Length;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t')) end--;
        return s[start..end];
    }
}
