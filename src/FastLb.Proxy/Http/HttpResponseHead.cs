namespace FastLb.Proxy.Http;

/// <summary>A parsed response head: status, header offsets and framing; one per upstream connection, reused per response.</summary>
internal sealed class HttpResponseHead : IDisposable
{
    internal HttpHeaderBlock Block { get; } = new();

    /// <summary>Frames this response's body; travels with the pooled head so an idle connection holds none.</summary>
    internal HttpBodyFramer BodyFramer { get; } = new();

    /// <summary>De-chunks this response for an HTTP/1.0 client.</summary>
    internal ChunkedDecoder Dechunker { get; } = new();

    internal ByteRange ReasonRange;
    internal int UpgradeIndex = -1;

    public HttpProtocolVersion Version { get; internal set; }

    public int StatusCode { get; internal set; }

    /// <summary>Framing of the body that follows, given the request method (RFC 9112 §6.3).</summary>
    public BodyFraming Framing { get; internal set; }

    /// <summary>The Content-Length value, or -1 when absent or overridden by Transfer-Encoding.</summary>
    public long ContentLength { get; internal set; } = -1;

    /// <summary>True when the response carried <c>Transfer-Encoding: chunked</c> (also for HEAD/204/304, where no body follows).</summary>
    public bool HasChunkedTransferEncoding { get; internal set; }

    /// <summary>True when the response carried both Content-Length and Transfer-Encoding: framed by TE, CL dropped, connection not reusable.</summary>
    public bool HadConflictingLength { get; internal set; }

    public int HeadLength { get; internal set; }

    /// <summary>502 when parsing failed; the backend connection must be discarded.</summary>
    public int ErrorStatusCode { get; internal set; }

    public string? ErrorReason { get; internal set; }

    public ReadOnlySpan<byte> ReasonPhrase => Block[ReasonRange];

    /// <summary>True for 1xx: forward it and parse the next head from the same connection (unless it is 101).</summary>
    public bool IsInformational => StatusCode is >= 100 and < 200;

    public ConnectionOptions ConnectionOptions => Block.ConnectionOptions;

    public bool ConnectionClose => (Block.ConnectionOptions & ConnectionOptions.Close) != 0;

    public bool ConnectionKeepAlive => (Block.ConnectionOptions & ConnectionOptions.KeepAlive) != 0;

    /// <summary>True when the backend connection may carry another request once this body is read.</summary>
    public bool CanReuseConnection =>
        !ConnectionClose
        && (Version == HttpProtocolVersion.Http11 || ConnectionKeepAlive)
        && !HadConflictingLength
        && Framing != BodyFraming.CloseDelimited
        && StatusCode != 101;

    public int ConnectionTokenCount => Block.ConnectionTokenCount;

    public ReadOnlySpan<byte> GetConnectionToken(int index) => Block.GetConnectionToken(index);

    public bool IsNominatedByConnection(ReadOnlySpan<byte> name) => Block.IsNominatedByConnection(name);

    public bool HasUpgrade => UpgradeIndex >= 0;

    public ReadOnlySpan<byte> Upgrade => UpgradeIndex >= 0 ? Block.GetValue(UpgradeIndex) : default;

    public int HeaderCount => Block.Count;

    public ReadOnlySpan<byte> GetHeaderName(int index) => Block.GetName(index);

    public ReadOnlySpan<byte> GetHeaderValue(int index) => Block.GetValue(index);

    public KnownHeader GetKnownHeader(int index) => Block.GetEntry(index).Known;

    public bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) => Block.TryGetValue(name, out value);

    public void Reset()
    {
        Block.Reset();
        ReasonRange = default;
        UpgradeIndex = -1;
        Version = HttpProtocolVersion.Http11;
        StatusCode = 0;
        Framing = BodyFraming.None;
        ContentLength = -1;
        HasChunkedTransferEncoding = false;
        HadConflictingLength = false;
        HeadLength = 0;
        ErrorStatusCode = 0;
        ErrorReason = null;
    }

    public void Dispose() => Block.Dispose();
}
