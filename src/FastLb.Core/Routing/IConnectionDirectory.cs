namespace FastLb.Core.Routing;

/// <summary>The open proxied connections, for cutting those still on a backend when its drain deadline passes.</summary>
/// <remarks>
/// Backends do not keep lists of their connections: registering one per request would take a lock on the hot path.
/// A connection only names the backend it runs on (<see cref="DrainLink.Owner"/>), and the rare cut walks this
/// directory instead (the proxy's listeners, which track every connection anyway).
/// </remarks>
internal interface IConnectionDirectory
{
    /// <summary>Every open connection; one opened or closed meanwhile may or may not be seen.</summary>
    IEnumerable<IDrainable> Connections { get; }
}
