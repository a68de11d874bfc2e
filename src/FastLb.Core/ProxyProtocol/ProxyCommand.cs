namespace FastLb.Core.ProxyProtocol;

/// <summary>What a PROXY header says about the connection.</summary>
internal enum ProxyCommand : byte
{
    /// <summary>The header carries the original client and destination addresses.</summary>
    Proxy,

    /// <summary>No addresses (v2 LOCAL, v1 UNKNOWN, or a family FastLb does not use): keep the peer's own address.</summary>
    Local,
}
