namespace FastLb.Core.Routing;

/// <summary>
/// What a connection carries so a drain can find it: the <see cref="BackendState"/> it runs on now (the backend of
/// a TCP relay, of an HTTP connection's current request). Setting and clearing it is a plain field write.
/// </summary>
internal struct DrainLink
{
    internal BackendState? Owner;

    /// <summary>Routed by a route that pins the pool (not by share): a pool's drain deadline spares it.</summary>
    internal bool Pinned;
}
