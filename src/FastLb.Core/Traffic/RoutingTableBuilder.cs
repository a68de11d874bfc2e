using System.Collections.Frozen;
using FastLb.Core.Config;
using FastLb.Core.Health;
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
        var now = registry.Time.GetUtcNow();
        var pinnedPools = PinnedPools(config);
        var services = new Dictionary<string, ServiceSnapshot>(config.Services.Count, StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            var shares = traffic.TryGetValue(service.Name, out var t) ? t.Current : service.Shares;
            var pools = new PoolSnapshot[service.Pools.Count];
            for (var p = 0; p < pools.Length; p++)
            {
                var pool = service.Pools[p];
                var share = shares.TryGetValue(pool.Name, out var s) ? s : 0;
                pools[p] = BuildPool(service, pool, share, pinnedPools.Contains((service.Name, pool.Name)), overrides, registry, now);
            }
            services[service.Name] = new ServiceSnapshot(service, pools) { Fallbacks = service.Fallback is null ? null : registry.Fallbacks };
        }
        var listeners = new Dictionary<string, ListenerRoutes>(StringComparer.Ordinal);
        foreach (var listener in config.Listeners)
        {
            if (listener.Protocol != ListenerProtocol.Http) continue;
            var routes = new List<CompiledRoute>(listener.Models.Count + listener.Routes.Count);
            // models: aliases come first: a public model name always reaches its service (no route number: the log names the alias).
            foreach (var alias in listener.Models)
            {
                if (!services.TryGetValue(alias.Service, out var aliased)) continue; // validated by the loader
                var aliasRoute = new RouteConfig
                {
                    Service = alias.Service,
                    Match = new RouteMatchConfig { Models = [alias.Name] },
                    ModelRewrite = alias.Model,
                };
                routes.Add(new CompiledRoute(aliasRoute, aliased, null) { Alias = System.Text.Encoding.UTF8.GetBytes(alias.Name) });
            }
            for (var i = 0; i < listener.Routes.Count; i++)
            {
                var route = listener.Routes[i];
                if (!services.TryGetValue(route.Service, out var service)) continue; // validated by the loader
                var pinned = route.Pool is null ? null : service.FindPool(route.Pool);
                routes.Add(new CompiledRoute(route, service, pinned, number: i + 1) { Mirror = MirrorOf(route, services, registry) });
            }
            listeners[listener.Name] = new ListenerRoutes(listener, [.. routes]) { ModelTraffic = registry.Models };
        }
        return new RoutingTable(
            generation,
            config,
            services.ToFrozenDictionary(StringComparer.Ordinal),
            listeners.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static MirrorTarget? MirrorOf(RouteConfig route, Dictionary<string, ServiceSnapshot> services, BackendStateRegistry registry)
    {
        if (route.Mirror is not { } mirror || !services.TryGetValue(mirror.Service, out var service) || service.FindPool(mirror.Pool) is not { } pool) return null;
        return new MirrorTarget(mirror, service, pool, registry.Mirror(mirror.Service, mirror.Pool));
    }

    /// <summary>The pools a route of an http listener (or a tcp listener's pool:) pins.</summary>
    private static HashSet<(string Service, string Pool)> PinnedPools(FastLbConfig config)
    {
        var pinned = new HashSet<(string, string)>();
        foreach (var listener in config.Listeners)
        {
            foreach (var route in listener.Routes)
            {
                if (route.Pool is not null) pinned.Add((route.Service, route.Pool));
            }
        }
        return pinned;
    }

    /// <summary>
    /// One pool's snapshot with this generation's health view: which backends may take traffic (healthy by their
    /// check, not ejected; all of them in panic) and at what slow-start weight. The view is fixed here, so a pick
    /// sees backends, weights and health of one moment.
    /// </summary>
    private static PoolSnapshot BuildPool(
        ServiceConfig service,
        PoolConfig pool,
        int share,
        bool pinned,
        IReadOnlyDictionary<BackendKey, BackendOverride> overrides,
        BackendStateRegistry registry,
        DateTimeOffset now)
    {
        var n = pool.Backends.Count;
        var check = service.CheckFor(pool);
        var budget = registry.Budget(service.Name, pool.Name);
        var states = new BackendState[n];
        var endPoints = new System.Net.IPEndPoint[n];
        var weights = new int[n];
        var drained = new bool[n];
        var available = new bool[n];
        var labels = new BackendHealthState[n];
        var factors = new double[n];
        var healths = new BackendHealth[n];
        int weighted = 0, healthy = 0;
        var ramping = false;
        for (var b = 0; b < n; b++)
        {
            var backend = pool.Backends[b];
            var address = backend.Address.ToString();
            endPoints[b] = backend.Address.ToIPEndPoint() ?? new System.Net.IPEndPoint(System.Net.IPAddress.None, backend.Address.Port);
            var state = registry.GetOrAdd(service.Name, pool.Name, address, endPoints[b]);
            states[b] = state;
            weights[b] = backend.Weight;
            if (overrides.TryGetValue(new BackendKey(service.Name, pool.Name, address), out var o))
            {
                weights[b] = o.Drained ? 0 : o.Weight ?? weights[b];
                drained[b] = o.Drained;
            }
            var health = state.Health;
            health.Checked = check is not null;
            health.Initial = service.InitialState;
            health.Outlier = service.Outlier;
            health.Budget = budget;
            healths[b] = health;
            available[b] = health.IsAvailable(now);
            labels[b] = health.StateAt(now);
            // Hash keeps keys on their backend: a ramp would reshuffle the Maglev table at every step.
            factors[b] = service.Balance == BalanceKind.Hash ? 1 : health.RampFactor(now, service.SlowStart);
            if (weights[b] > 0)
            {
                weighted++;
                if (available[b]) healthy++;
            }
            ramping |= available[b] && weights[b] > 0 && factors[b] < 1;
        }
        budget.SetMembers(healths);
        var panic = service.PanicThreshold > 0 && weighted > 0 && (long)healthy * 100 < (long)weighted * service.PanicThreshold;
        var scale = ramping ? SlowStart.RampScale : 1;
        var backends = new BackendSnapshot[n];
        for (var b = 0; b < n; b++)
        {
            var pickWeight = available[b] || panic ? SlowStart.PickWeight(weights[b], factors[b], scale) : 0;
            backends[b] = new BackendSnapshot(states[b], endPoints[b], weights[b], drained[b], pickWeight, labels[b], factors[b]);
        }
        return new PoolSnapshot(pool.Name, share, backends, SelectionPolicyFactory.Create(service.Balance, backends), panic)
        {
            HealthyCount = healthy,
            Pinned = pinned,
            StickyCookieHeader = service.StickySplit is { By: StickyBy.Cookie } sticky
                ? System.Text.Encoding.ASCII.GetBytes($"Set-Cookie: {sticky.Cookie}={pool.Name}; Max-Age={(long)sticky.Ttl.TotalSeconds}; Path=/; HttpOnly\r\n")
                : null,
        };
    }
}
