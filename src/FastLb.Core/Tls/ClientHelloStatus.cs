namespace FastLb.Core.Tls;

/// <summary>The outcome of one <see cref="ClientHelloParser.TryReadServerName"/> call.</summary>
internal enum ClientHelloStatus : byte
{
    /// <summary>The whole ClientHello was read; the server name (if any) is known.</summary>
    Complete,

    /// <summary>A valid prefix: wait for more bytes.</summary>
    Incomplete,

    /// <summary>Not a TLS ClientHello, malformed, or past the bound: close the connection.</summary>
    Invalid,
}
