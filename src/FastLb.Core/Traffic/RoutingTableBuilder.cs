using System.Collections.Frozen;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

/// <summary>Builds an immutable <see cref="RoutingTable"/> from the config plus runtime shares and backend overrides.</summary>
internal static class RoutingTableBuilder
{
    public static RoutingTable Build(
        FastLbConfig config,
        long generation,
        IReadOnlyDictionary<string, ServiceTraffic> traffic,
        IReadOnlyDictionary<BackendKey, BackendOverride> overrides,
        BackendStateRegistry registry)
    {
        var services = new Dictionary<string, ServiceSnapshot>(config.Services.Count, StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            var shares = traffic.TryGetValue(service.Name, out var t) ? t.Current : service.Shares;
            var pools = new PoolSnapshot[service.Pools.Count];
            for (var p = 0; p < pools.Length; p++)
            {
                var pool = service.Pools[p];
                var backends = new BackendSnapshot[pool.Backends.Count];
                for (var b = 0; b < backends.Length; b++)
                {
                    var backend = pool.Backends[b];
                    var address = backend.Address.ToString();
                    var endPoint = backend.Address.ToIPEndPoint() ?? new System.Net.IPEndPoint(System.Net.IPAddress.None, backend.Address.Port);
                    var state = registry.GetOrAdd(service.Name, pool.Name, address, endPoint);
                    var weight = backend.Weight;
                    var drained = false;
                    if (overrides.TryGetValue(new BackendKey(service.Name, pool.Name, address), out var o))
                    {
                        weight = o.Weight ?? weight;
                        drained = o.Drained;
                    }
                    backends[b] = new BackendSnapshot(state, endPoint, drained ? 0 : weight, drained);
                }
                var share = shares.TryGetValue(pool.Name, out var s) ? s : 0;
                pools[p] = new PoolSnapshot(pool.Name, share, backends, SelectionPolicyFactory.Create(service.Balance, backends));
            }
            services[service.Name] = new ServiceSnapshot(service, pools);
        }
        var listeners = new Dictionary<string, ListenerRoutes>(StringComparer.Ordinal);
        foreach (var listener in config.Listeners)
        {
            if (listener.Protocol != ListenerProtocol.Http) continue;
            var routes = new List<CompiledRoute>(listener.Routes.Count);
            foreach (var route in listener.Routes)
            {
                if (!services.TryGetValue(route.Service, out var service)) continue; // validated by the loader
                var pinned = route.Pool is null ? null : service.FindPool(route.Pool);
                routes.Add(new CompiledRoute(route, service, pinned));
            }
            listeners[listener.Name] = new ListenerRoutes(listener, [.. routes]);
        }
        return new RoutingTable(
            generation,
            config,
            services.ToFrozenDictionary(StringComparer.Ordinal),
            listeners.ToFrozenDictionary(StringComparer.Ordinal));
    }
}
