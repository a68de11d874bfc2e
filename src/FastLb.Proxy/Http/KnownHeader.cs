namespace FastLb.Proxy.Http;

/// <summary>Header names classified once while parsing so lookups and forwarding compare bytes at most once.</summary>
internal enum KnownHeader : byte
{
    Other,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    TE,
    Trailer,
    Upgrade,
    Expect,
    Cookie,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
}
