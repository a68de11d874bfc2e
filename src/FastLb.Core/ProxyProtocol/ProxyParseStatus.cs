namespace FastLb.Core.ProxyProtocol;

/// <summary>The outcome of one <see cref="ProxyHeaderParser.TryParse"/> call.</summary>
internal enum ProxyParseStatus : byte
{
    /// <summary>A whole header was read; its length is the consumed count.</summary>
    Complete,

    /// <summary>What arrived so far is a valid prefix: wait for more bytes.</summary>
    Incomplete,

    /// <summary>Not a PROXY header, or one this listener does not accept: close the connection.</summary>
    Invalid,
}
