namespace FastLb.Proxy.Http;

/// <summary>What the proxy decides about a response head it forwards to the client.</summary>
internal readonly ref struct ResponseHeadOptions
{
    /// <summary>A 101 is being tunnelled, so Upgrade and <c>Connection: upgrade</c> are forwarded.</summary>
    public bool AllowUpgrade { get; init; }

    /// <summary>Write <c>Connection: close</c>; the proxy closes the client connection after this response.</summary>
    public bool ConnectionClose { get; init; }

    /// <summary>Write <c>Connection: keep-alive</c>, for HTTP/1.0 clients that asked for it.</summary>
    public bool ConnectionKeepAlive { get; init; }

    /// <summary>Whole header lines (each ending in CRLF) FastLb adds, e.g. a sticky_split Set-Cookie; empty for none.</summary>
    public ReadOnlySpan<byte> ExtraFields { get; init; }

    /// <summary>Write neither Content-Length nor Transfer-Encoding: the proxy re-frames the body (de-chunked, close-delimited).</summary>
    public bool OmitFraming { get; init; }
}
