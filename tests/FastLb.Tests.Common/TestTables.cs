using System.Collections.Frozen;
using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Tests.Common;

/// <summary>Builds configs and routing tables by hand for tests; the real table builder lives in the control plane.</summary>
internal static class TestTables
{
    public static EndPointConfig Address(IPEndPoint endPoint) => new(endPoint.Address.ToString(), endPoint.Port);

    public static PoolConfig Pool(string name, params IPEndPoint[] backends)
    {
        var list = new BackendConfig[backends.Length];
        for (var i = 0; i < backends.Length; i++) list[i] = new BackendConfig(Address(backends[i]), 1);
        return new PoolConfig { Name = name, Backends = list };
    }

    /// <summary>A service with one pool "main" holding <paramref name="backends"/> (weight 1 each) at share 100.</summary>
    public static ServiceConfig Service(string name, IPEndPoint[] backends, TimeSpan? connectTimeout = null, TimeSpan? idleTimeout = null, TimeSpan? drainTimeout = null) =>
        Service(name, [Pool("main", backends)], new Dictionary<string, int> { ["main"] = 100 }, connectTimeout, idleTimeout, drainTimeout: drainTimeout);

    public static ServiceConfig Service(string name, PoolConfig[] pools, IReadOnlyDictionary<string, int> shares,
        TimeSpan? connectTimeout = null, TimeSpan? idleTimeout = null, BalanceKind balance = BalanceKind.RoundRobin, TimeSpan? drainTimeout = null) => new()
    {
        DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(30),
        Name = name,
        Pools = pools,
        Shares = shares,
        Balance = balance,
        ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(2),
        IdleTimeout = idleTimeout ?? TimeSpan.FromSeconds(60),
    };

    /// <summary>A tcp listener relaying to <paramref name="service"/>, with its own max_connections and on_limit when given.</summary>
    public static ListenerConfig TcpListener(
        string name, string service, IPEndPoint? bind = null, int? maxConnections = null, OnLimit onLimit = OnLimit.Queue) => new()
    {
        Name = name,
        Bind = Address(bind ?? new IPEndPoint(IPAddress.Loopback, 0)),
        Protocol = ListenerProtocol.Tcp,
        Service = service,
        MaxConnections = maxConnections,
        OnLimit = onLimit,
    };

    /// <summary>An http listener whose only route is a catch-all to <paramref name="service"/>.</summary>
    public static ListenerConfig HttpListener(string name, string service, IPEndPoint? bind = null) => new()
    {
        Name = name,
        Bind = Address(bind ?? new IPEndPoint(IPAddress.Loopback, 0)),
        Protocol = ListenerProtocol.Http,
        Routes = [new RouteConfig { Service = service }],
    };

    public static FastLbConfig Config(ListenerConfig[] listeners, ServiceConfig[] services, DefaultsConfig? defaults = null) => new()
    {
        SourcePath = "<test>",
        Listeners = listeners,
        Services = services,
        Defaults = defaults ?? new DefaultsConfig(),
    };

    /// <summary>Builds the table of <paramref name="config"/>; backend states come from (and stay in) <paramref name="registry"/>.</summary>
    public static RoutingTable Build(FastLbConfig config, BackendStateRegistry registry, long generation = 1)
    {
        var services = new Dictionary<string, ServiceSnapshot>(StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            var pools = new PoolSnapshot[service.Pools.Count];
            for (var p = 0; p < pools.Length; p++)
            {
                var pool = service.Pools[p];
                var backends = new BackendSnapshot[pool.Backends.Count];
                for (var b = 0; b < backends.Length; b++)
                {
                    var backend = pool.Backends[b];
                    var endPoint = backend.Address.ToIPEndPoint() ?? throw new ArgumentException($"backend {backend.Address} is not an IP address");
                    var state = registry.GetOrAdd(service.Name, pool.Name, backend.Address.ToString(), endPoint);
                    backends[b] = new BackendSnapshot(state, endPoint, backend.Weight, draining: false);
                }
                var share = service.Shares.TryGetValue(pool.Name, out var s) ? s : 0;
                pools[p] = new PoolSnapshot(pool.Name, share, backends, SelectionPolicyFactory.Create(service.Balance, backends));
            }
            services[service.Name] = new ServiceSnapshot(service, pools);
        }
        return new RoutingTable(generation, config, services.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>A router already publishing the table of <paramref name="config"/>.</summary>
    public static Router Router(FastLbConfig config, BackendStateRegistry registry)
    {
        var router = new Router();
        router.Publish(Build(config, registry));
        return router;
    }
}
