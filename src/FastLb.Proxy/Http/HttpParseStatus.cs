namespace FastLb.Proxy.Http;

/// <summary>Outcome of one attempt to parse a message head from the bytes received so far.</summary>
internal enum HttpParseStatus : byte
{
    /// <summary>No complete head yet; examined = buffer end, consumed = buffer start.</summary>
    Incomplete,

    /// <summary>The head parsed; consumed is the position after the blank line.</summary>
    Complete,

    /// <summary>The head is invalid; answer the head's ErrorStatusCode and close the connection.</summary>
    Error,
}
