namespace FastLb.Proxy.Http;

/// <summary>What the proxy adds or changes when it forwards a request head upstream.</summary>
internal readonly ref struct RequestHeadOptions
{
    /// <summary>The client's IP as text, appended to X-Forwarded-For.</summary>
    public ReadOnlySpan<byte> ClientAddress { get; init; }

    /// <summary>The scheme the client used, written as X-Forwarded-Proto (<c>http</c> or <c>https</c>).</summary>
    public ReadOnlySpan<byte> Scheme { get; init; }

    /// <summary>When not empty, the Host to send instead of the client's authority.</summary>
    public ReadOnlySpan<byte> HostOverride { get; init; }

    /// <summary>The proxy will tunnel an upgrade (e.g. WebSocket), so Upgrade and <c>Connection: upgrade</c> are forwarded.</summary>
    public bool AllowUpgrade { get; init; }

    /// <summary>Ask the backend to close after this exchange.</summary>
    public bool ConnectionClose { get; init; }
}
