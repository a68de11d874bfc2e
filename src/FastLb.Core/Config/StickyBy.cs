namespace FastLb.Core.Config;

/// <summary>What keeps a client on one pool during a split.</summary>
internal enum StickyBy
{
    /// <summary>A cookie naming the pool, set on the response that assigned it (HTTP only).</summary>
    Cookie,

    /// <summary>A hash of the client address picks the pool (HTTP and TCP; no cookie).</summary>
    ClientIp,
}
