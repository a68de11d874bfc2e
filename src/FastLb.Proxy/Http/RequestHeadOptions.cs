namespace FastLb.Proxy.Http;

/// <summary>What the proxy adds or changes when it forwards a request head upstream.</summary>
internal readonly ref struct RequestHeadOptions
{
    /// <summary>The peer's IP as text, appended to X-Forwarded-For.</summary>
    public ReadOnlySpan<byte> ClientAddress { get; init; }

    /// <summary>
    /// The peer is a trusted proxy: its X-Forwarded-For is kept (and appended to), and Forwarded / X-Real-IP pass.
    /// Otherwise X-Forwarded-For is replaced by the peer's address and Forwarded / X-Real-IP are dropped.
    /// </summary>
    public bool TrustForwarded { get; init; }

    /// <summary>The scheme the client used, written as X-Forwarded-Proto (<c>http</c> or <c>https</c>).</summary>
    public ReadOnlySpan<byte> Scheme { get; init; }

    /// <summary>When not empty, the Host to send instead of the client's authority.</summary>
    public ReadOnlySpan<byte> HostOverride { get; init; }

    /// <summary>The proxy will tunnel an upgrade (e.g. WebSocket), so Upgrade and <c>Connection: upgrade</c> are forwarded.</summary>
    public bool AllowUpgrade { get; init; }

    /// <summary>When positive, the Content-Length to send instead of the client's (the body's model was rewritten).</summary>
    public long RewrittenContentLength { get; init; }

    /// <summary>Ask the backend to close after this exchange.</summary>
    public bool ConnectionClose { get; init; }
}
