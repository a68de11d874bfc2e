namespace FastLb.Proxy.Transport;

/// <summary>Why a transport's receive side ended.</summary>
internal enum ReceiveEnd
{
    /// <summary>Still receiving.</summary>
    None,

    /// <summary>The peer finished sending (FIN): a clean end of stream.</summary>
    Fin,

    /// <summary>The peer reset the connection (RST).</summary>
    Reset,

    /// <summary>Closed locally: abort, graceful close, or nobody reads any more.</summary>
    Local,

    /// <summary>Another socket error.</summary>
    Error,
}
