using System.Text;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

/// <summary>A parsed request head: its bytes, header offsets and derived framing; one per client connection, reused per request.</summary>
internal sealed class HttpRequestHead : IHttpRequestView, IDisposable
{
    internal HttpHeaderBlock Block { get; } = new();

    /// <summary>Frames this request's body; travels with the pooled head so an idle connection holds none.</summary>
    internal HttpBodyFramer BodyFramer { get; } = new(holdIncompleteChunkLines: true);

    internal ByteRange MethodRange;
    internal ByteRange TargetRange;
    internal ByteRange AuthorityRange;
    internal ByteRange PathAndQueryRange;
    internal int HostIndex = -1;
    internal int UpgradeIndex = -1;

    public HttpMethodKind Method { get; internal set; }

    public HttpProtocolVersion Version { get; internal set; }

    public RequestTargetForm TargetForm { get; internal set; }

    /// <summary>Framing of the request body; Content-Length and chunked together never get this far.</summary>
    public BodyFraming Framing { get; internal set; }

    /// <summary>The Content-Length value, or -1 when the request has none.</summary>
    public long ContentLength { get; internal set; } = -1;

    /// <summary>True when the request carries <c>Transfer-Encoding: chunked</c>, the only coding accepted.</summary>
    public bool IsChunked => Framing == BodyFraming.Chunked;

    /// <summary>True when body bytes follow the head (chunked, or a Content-Length above 0).</summary>
    public bool HasBody => Framing == BodyFraming.Chunked || (Framing == BodyFraming.ContentLength && ContentLength > 0);

    /// <summary>True for <c>Expect: 100-continue</c>.</summary>
    public bool ExpectContinue { get; internal set; }

    /// <summary>Bytes from the start of the input through the blank line; what the parser consumed.</summary>
    public int HeadLength { get; internal set; }

    /// <summary>The status to answer when parsing failed: 400, 405, 414, 431 or 505.</summary>
    public int ErrorStatusCode { get; internal set; }

    /// <summary>A constant description of the failure, for logs; never sent to backends.</summary>
    public string? ErrorReason { get; internal set; }

    public ReadOnlySpan<byte> MethodBytes => Block[MethodRange];

    /// <summary>The request-target exactly as received.</summary>
    public ReadOnlySpan<byte> Target => Block[TargetRange];

    /// <summary>The path and query to forward in origin-form; empty for an absolute-form target without a path (forward <c>/</c>).</summary>
    public ReadOnlySpan<byte> PathAndQuery => Block[PathAndQueryRange];

    /// <summary>The authority of an absolute-form target; empty otherwise.</summary>
    public ReadOnlySpan<byte> TargetAuthority => Block[AuthorityRange];

    public bool HasHost => HostIndex >= 0;

    /// <summary>The Host value, empty when absent.</summary>
    public ReadOnlySpan<byte> Host => HostIndex >= 0 ? Block.GetValue(HostIndex) : default;

    /// <summary>The authority to route by: the absolute-form target's authority if any (RFC 9112 §3.2.2), else Host.</summary>
    public ReadOnlySpan<byte> Authority => TargetForm == RequestTargetForm.Absolute ? TargetAuthority : Host;

    public ConnectionOptions ConnectionOptions => Block.ConnectionOptions;

    public bool ConnectionClose => (Block.ConnectionOptions & ConnectionOptions.Close) != 0;

    public bool ConnectionKeepAlive => (Block.ConnectionOptions & ConnectionOptions.KeepAlive) != 0;

    public bool ConnectionUpgrade => (Block.ConnectionOptions & ConnectionOptions.Upgrade) != 0;

    /// <summary>True when the client wants the connection kept open after this exchange (RFC 9112 §9.3).</summary>
    public bool KeepAlive => !ConnectionClose && (Version == HttpProtocolVersion.Http11 || ConnectionKeepAlive);

    /// <summary>Number of header names listed in Connection besides close, keep-alive and upgrade.</summary>
    public int ConnectionTokenCount => Block.ConnectionTokenCount;

    public ReadOnlySpan<byte> GetConnectionToken(int index) => Block.GetConnectionToken(index);

    public bool IsNominatedByConnection(ReadOnlySpan<byte> name) => Block.IsNominatedByConnection(name);

    public bool HasUpgrade => UpgradeIndex >= 0;

    /// <summary>The Upgrade value, empty when absent.</summary>
    public ReadOnlySpan<byte> Upgrade => UpgradeIndex >= 0 ? Block.GetValue(UpgradeIndex) : default;

    /// <summary>True when the client asks to switch to a protocol FastLb may tunnel: <c>Connection: upgrade</c> plus an Upgrade other than h2c.</summary>
    public bool IsUpgradeRequest => ConnectionUpgrade && UpgradeIndex >= 0 && HasNonH2cProtocol(Upgrade);

    public int HeaderCount => Block.Count;

    public ReadOnlySpan<byte> GetHeaderName(int index) => Block.GetName(index);

    public ReadOnlySpan<byte> GetHeaderValue(int index) => Block.GetValue(index);

    public KnownHeader GetKnownHeader(int index) => Block.GetEntry(index).Known;

    /// <summary>Value of the first header named <paramref name="name"/>, compared case-insensitively.</summary>
    public bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) => Block.TryGetValue(name, out value);

    /// <summary>Value of cookie <paramref name="name"/> from any Cookie line.</summary>
    public bool TryGetCookie(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) => Block.TryGetCookie(name, out value);

    ReadOnlySpan<byte> IHttpRequestView.Method => MethodBytes;

    /// <summary>The path without the query string, for route matching.</summary>
    public ReadOnlySpan<byte> Path
    {
        get
        {
            var p = PathAndQuery;
            int q = p.IndexOf((byte)'?');
            return q < 0 ? p : p[..q];
        }
    }

    /// <summary>The routing authority without its port; an IPv6 literal keeps its brackets.</summary>
    ReadOnlySpan<byte> IHttpRequestView.Host => AuthorityWithoutPort(Authority);

    internal static ReadOnlySpan<byte> AuthorityWithoutPort(ReadOnlySpan<byte> authority)
    {
        int colon = authority.LastIndexOf((byte)':');
        if (colon < 0) return authority;
        // "[::1]" has colons inside the brackets only; "[::1]:80" has one after the closing bracket.
        int bracket = authority.LastIndexOf((byte)']');
        return colon > bracket ? authority[..colon] : authority;
    }

    /// <summary>Clears every parsed field before the next request; keeps the buffers.</summary>
    public void Reset()
    {
        Block.Reset();
        MethodRange = TargetRange = AuthorityRange = PathAndQueryRange = default;
        HostIndex = UpgradeIndex = -1;
        Method = HttpMethodKind.Custom;
        Version = HttpProtocolVersion.Http11;
        TargetForm = RequestTargetForm.Origin;
        Framing = BodyFraming.None;
        ContentLength = -1;
        ExpectContinue = false;
        HeadLength = 0;
        ErrorStatusCode = 0;
        ErrorReason = null;
    }

    public void Dispose() => Block.Dispose();

    internal static bool HasNonH2cProtocol(ReadOnlySpan<byte> list)
    {
        while (true)
        {
            int comma = list.IndexOf((byte)',');
            var item = HttpChars.TrimOws(comma < 0 ? list : list[..comma]);
            if (!item.IsEmpty && !Ascii.EqualsIgnoreCase(item, "h2c"u8)) return true;
            if (comma < 0) return false;
            list = list[(comma + 1)..];
        }
    }
}
