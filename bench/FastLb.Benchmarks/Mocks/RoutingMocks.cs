using System.Collections.Frozen;
using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Mocks;

/// <summary>Backends, pools and services for the routing benchmarks.</summary>
internal static class RoutingMocks
{
    /// <summary>Mixed weights 1, 2, 3 repeating, as a pool with some bigger machines would have.</summary>
    public static int MixedWeight(int i) => 1 + i % 3;

    public static BalanceKind ParseBalance(string name) => name switch
    {
        "round_robin" => BalanceKind.RoundRobin,
        "least_request" => BalanceKind.LeastRequest,
        "random" => BalanceKind.Random,
        "hash" => BalanceKind.Hash,
        _ => throw new ArgumentException($"unknown balance '{name}'"),
    };

    public static BackendState State(int i, string pool)
    {
        var endPoint = new IPEndPoint(new IPAddress(0x0A000000u + (uint)i), 8080);
        return new BackendState("web", pool, endPoint.ToString(), endPoint);
    }

    public static BackendSnapshot[] Backends(int count, string pool = "blue", int firstId = 0)
    {
        var backends = new BackendSnapshot[count];
        for (var i = 0; i < count; i++)
        {
            var state = State(firstId + i, pool);
            backends[i] = new BackendSnapshot(state, state.EndPoint!, MixedWeight(i), draining: false);
        }
        return backends;
    }

    public static ServiceConfig ServiceConfig(BalanceKind balance, params (string Name, int Share, BackendSnapshot[] Backends)[] pools)
    {
        var shares = new Dictionary<string, int>();
        var poolConfigs = new List<PoolConfig>();
        foreach (var (name, share, backends) in pools)
        {
            shares[name] = share;
            var configs = new List<BackendConfig>(backends.Length);
            foreach (var b in backends) configs.Add(new BackendConfig(new EndPointConfig(b.EndPoint.Address.ToString(), b.EndPoint.Port), b.Weight));
            poolConfigs.Add(new PoolConfig { Name = name, Backends = configs });
        }
        return new ServiceConfig { Name = "web", Balance = balance, Pools = poolConfigs, Shares = shares };
    }

    /// <summary>Service "web": blue (share 90) and green (share 10), <paramref name="perPool"/> backends each.</summary>
    public static ServiceSnapshot SplitService(BalanceKind balance, int perPool)
    {
        var blue = Backends(perPool, "blue");
        var green = Backends(perPool, "green", firstId: 1 << 16);
        var config = ServiceConfig(balance, ("blue", 90, blue), ("green", 10, green));
        return new ServiceSnapshot(config,
        [
            new PoolSnapshot("blue", 90, blue, SelectionPolicyFactory.Create(balance, blue)),
            new PoolSnapshot("green", 10, green, SelectionPolicyFactory.Create(balance, green)),
        ]);
    }

    public static RoutingTable Table(long generation, FastLbConfig config, ServiceSnapshot service) =>
        new(generation, config, new[] { KeyValuePair.Create(service.Name, service) }.ToFrozenDictionary());
}
