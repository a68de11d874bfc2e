using FastLb.Core.Routing;

namespace FastLb.Proxy;

/// <summary>A client connection the server tracks for drain, idle checks and shutdown.</summary>
internal interface IProxyConnection : IDrainable, IThreadPoolWorkItem
{
    /// <summary>Asks the connection to finish what is in flight and close; TCP relays have no such point and ignore it.</summary>
    void RequestClose();

    /// <summary>
    /// Asks the connection to close after its next complete exchange without cutting an idle one (a process upgrade
    /// drains this way, so a client racing its next request on a keep-alive connection is answered, not reset).
    /// Connections without request boundaries treat it like <see cref="RequestClose"/>.
    /// </summary>
    void RequestCloseAfterResponse() => RequestClose();

    /// <summary>Called by the server's heartbeat (every <see cref="ProxyServer.DefaultHeartbeat"/>) to enforce timeouts.</summary>
    void OnHeartbeat(long nowMs);
}
