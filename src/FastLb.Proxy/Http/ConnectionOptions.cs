namespace FastLb.Proxy.Http;

/// <summary>The connection options named in Connection header fields that FastLb acts on.</summary>
[Flags]
internal enum ConnectionOptions : byte
{
    None = 0,
    Close = 1,
    KeepAlive = 2,
    Upgrade = 4,
}
