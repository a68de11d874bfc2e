using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Proxy;

/// <summary>A listener's current config and the service its TCP relay forwards to; replaced as a whole on reload.</summary>
internal sealed class ListenerTarget(ListenerConfig config)
{
    public ListenerConfig Config { get; } = config;

    /// <summary>The service new TCP connections relay to; null for an http listener, whose requests are routed one by one.</summary>
    public string? Service { get; } = config.Protocol == ListenerProtocol.Tcp ? config.Service : null;

    /// <summary>TLS passthrough: the service is picked per connection by the ClientHello's server name; null otherwise.</summary>
    public SniRouteTable? SniRoutes { get; } = config.Protocol == ListenerProtocol.Tcp && config.SniRoutes is { } routes ? new SniRouteTable(routes) : null;
}
