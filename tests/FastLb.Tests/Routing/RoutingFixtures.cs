using System.Net;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Tests.Routing;

/// <summary>Builds backends, pools and services for routing tests.</summary>
internal static class RoutingFixtures
{
    public static BackendSnapshot Backend(int i, int weight, string pool = "blue", string service = "web")
    {
        var endPoint = new IPEndPoint(IPAddress.Parse($"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}"), 8080);
        var state = new BackendState(service, pool, endPoint.ToString(), endPoint);
        return new BackendSnapshot(state, endPoint, weight, draining: false);
    }

    /// <summary>The same backend as a later table sees it once its health takes it out (unhealthy or ejected): no pick weight.</summary>
    public static BackendSnapshot Down(BackendSnapshot b) =>
        new(b.State, b.EndPoint, b.Weight, b.Draining, pickWeight: 0, health: FastLb.Core.Health.BackendHealthState.Unhealthy);

    /// <summary><paramref name="backends"/> with those at <paramref name="down"/> taken out by health.</summary>
    public static BackendSnapshot[] WithDown(BackendSnapshot[] backends, params int[] down)
    {
        var result = (BackendSnapshot[])backends.Clone();
        foreach (var i in down) result[i] = Down(backends[i]);
        return result;
    }

    public static BackendSnapshot[] Backends(params int[] weights)
    {
        var backends = new BackendSnapshot[weights.Length];
        for (var i = 0; i < weights.Length; i++) backends[i] = Backend(i, weights[i]);
        return backends;
    }

    public static BackendSnapshot[] EqualBackends(int count, int weight = 1, int firstId = 0)
    {
        var backends = new BackendSnapshot[count];
        for (var i = 0; i < count; i++) backends[i] = Backend(firstId + i, weight);
        return backends;
    }

    /// <summary>Counts picks per backend over <paramref name="picks"/> calls; hash varies per call.</summary>
    public static Dictionary<BackendSnapshot, int> Count(ISelectionPolicy policy, int picks, int seed = 1)
    {
        var counts = new Dictionary<BackendSnapshot, int>(ReferenceEqualityComparer.Instance);
        var keys = new Random(seed);
        for (var i = 0; i < picks; i++)
        {
            var b = policy.Pick((ulong)keys.NextInt64(), 0)!;
            counts[b] = counts.GetValueOrDefault(b) + 1;
        }
        return counts;
    }

    public static ServiceSnapshot Service(BalanceKind balance, params (string Name, int Share, BackendSnapshot[] Backends)[] pools)
    {
        var shares = new Dictionary<string, int>();
        var poolConfigs = new List<PoolConfig>();
        var snapshots = new PoolSnapshot[pools.Length];
        for (var i = 0; i < pools.Length; i++)
        {
            var (name, share, backends) = pools[i];
            shares[name] = share;
            var backendConfigs = new List<BackendConfig>();
            foreach (var b in backends) backendConfigs.Add(new BackendConfig(new EndPointConfig(b.EndPoint.Address.ToString(), b.EndPoint.Port), b.Weight));
            poolConfigs.Add(new PoolConfig { Name = name, Backends = backendConfigs });
            snapshots[i] = new PoolSnapshot(name, share, backends, SelectionPolicyFactory.Create(balance, backends));
        }
        var config = new ServiceConfig { Name = "web", Balance = balance, Pools = poolConfigs, Shares = shares };
        return new ServiceSnapshot(config, snapshots);
    }
}
