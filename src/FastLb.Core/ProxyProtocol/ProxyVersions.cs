namespace FastLb.Core.ProxyProtocol;

/// <summary>Which PROXY protocol versions a listener accepts.</summary>
[Flags]
internal enum ProxyVersions : byte
{
    None = 0,
    V1 = 1,
    V2 = 2,
    Both = V1 | V2,
}
