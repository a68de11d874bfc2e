using FastLb.Core.Config;

namespace FastLb.Proxy;

/// <summary>A listener's current config and the service its TCP relay forwards to; replaced as a whole on reload.</summary>
internal sealed class ListenerTarget
{
    public ListenerTarget(ListenerConfig config)
    {
        Config = config;
        if (config.Protocol == ListenerProtocol.Tcp)
        {
            Service = config.Service;
            return;
        }
        // Http listener without an HTTP handler: relay the whole connection to the catch-all route's service
        // (see ProxyServer). Pinned pools are honoured so a catch-all pinned to a pool still lands there.
        foreach (var route in config.Routes)
        {
            if (!route.Match.IsCatchAll) continue;
            Service = route.Service;
            Pool = route.Pool;
            break;
        }
    }

    public ListenerConfig Config { get; }

    /// <summary>The service new connections relay to, or null when there is none (connections are reset).</summary>
    public string? Service { get; }

    /// <summary>A pool the route pins, bypassing the service's split; null for the normal pick.</summary>
    public string? Pool { get; }
}
