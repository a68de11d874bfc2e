namespace FastLb.Proxy.Http;

/// <summary>Outcome of metering body bytes.</summary>
internal enum BodyParseStatus : byte
{
    /// <summary>Every byte seen so far is valid and may be forwarded; the body has not ended.</summary>
    NeedMoreData,

    /// <summary>The body ended; bytes after the reported count belong to the next message.</summary>
    Done,

    /// <summary>The framing is invalid or the peer closed early; abort both connections.</summary>
    Error,
}
