using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    /// <summary>Atomic blue/green flip: all new traffic of <paramref name="service"/> goes to <paramref name="pool"/>.</summary>
    /// <remarks>Refused by the release gate when <paramref name="pool"/> is not healthy enough, unless <paramref name="force"/>.</remarks>
    public ChangeResult Swap(string service, string pool, bool force = false)
    {
        lock (_writeLock)
        {
            var config = RequireServiceConfig(service);
            RequirePool(config, pool);
            var next = new Dictionary<string, int>();
            foreach (var p in config.Pools) next[p.Name] = p.Name == pool ? 100 : 0;
            var warnings = CheckGate(service, $"swap {service} -> {pool}", RequireService(service).Current, next, force);
            return Assign(service, next, $"swap {service} -> {pool}{(warnings.Count > 0 ? " (forced)" : "")}") with { Warnings = warnings };
        }
    }

    /// <summary>Weighted split across pools; pools not named get 0.</summary>
    /// <remarks>Refused by the release gate when a pool that gains traffic is not healthy enough, unless <paramref name="force"/>.</remarks>
    public ChangeResult Split(string service, IReadOnlyList<KeyValuePair<string, int>> shares, bool force = false)
    {
        lock (_writeLock)
        {
            var config = RequireServiceConfig(service);
            var next = new Dictionary<string, int>();
            foreach (var p in config.Pools) next[p.Name] = 0;
            var total = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (pool, weight) in shares)
            {
                RequirePool(config, pool);
                if (!seen.Add(pool)) throw new TrafficException($"pool '{pool}' named twice in split");
                if (weight < 0 || weight > 100) throw new TrafficException($"share for '{pool}' must be a percentage from 0 to 100, got {weight}");
                next[pool] = weight;
                total += weight;
            }
            // Shares are percentages of new traffic: what the operator types is what status shows.
            if (total != 100) throw new TrafficException($"shares add up to {total}, not 100 (e.g. split {service} {SplitExample(config)})");
            var warnings = CheckGate(service, $"split {service} {Shares.Describe(next)}", RequireService(service).Current, next, force);
            return Assign(service, next, $"split {service} {Shares.Describe(next)}{(warnings.Count > 0 ? " (forced)" : "")}") with { Warnings = warnings };
        }
    }

    private static string SplitExample(ServiceConfig config) =>
        config.Pools.Count >= 2 ? $"{config.Pools[0].Name}=90 {config.Pools[1].Name}=10" : $"{config.Pools[0].Name}=100";

    /// <summary>Restores the assignment before the last change of <paramref name="service"/>, at once.</summary>
    /// <remarks>Never refused by the release gate (it is the way back); the reply warns when the pool it returns to is unhealthy.</remarks>
    public ChangeResult Rollback(string service)
    {
        lock (_writeLock)
        {
            var t = RequireService(service);
            var previous = t.PopHistory() ?? throw new TrafficException($"nothing to roll back for '{service}': no earlier assignment");
            CancelRollout(service, "superseded by rollback");
            var warnings = RollbackWarnings(service, t.Current, previous);
            t.Current = previous;
            t.Source = Shares.SameAs(previous, t.FileShares) ? AssignmentSource.File : AssignmentSource.Runtime;
            return Publish($"rollback {service} -> {Shares.Describe(previous)}") with { Warnings = warnings };
        }
    }

    /// <summary>Sets one backend's weight at runtime (0 = no new traffic).</summary>
    public ChangeResult SetWeight(string service, string pool, string address, int weight)
    {
        lock (_writeLock)
        {
            if (weight < 0 || weight > 1_000_000) throw new TrafficException($"weight must be 0..1000000, got {weight}");
            var (key, backend) = RequireBackend(service, pool, address);
            var o = GetOverride(key, backend);
            if (o.Weight == weight || (o.Weight is null && backend.Weight == weight)) return Unchanged($"{key.Address} already has weight {weight}");
            o.Weight = weight == backend.Weight ? null : weight;
            CleanOverride(key, o);
            return Publish($"weight {service}/{pool}/{key.Address} = {weight}");
        }
    }

    /// <summary>Takes one backend out of rotation; its live connections drain.</summary>
    public ChangeResult Drain(string service, string pool, string address)
    {
        lock (_writeLock)
        {
            var (key, backend) = RequireBackend(service, pool, address);
            var o = GetOverride(key, backend);
            if (o.Drained) return Unchanged($"{key.Address} is already drained");
            o.Drained = true;
            o.DrainedSince = time.GetUtcNow();
            return Publish($"drain {service}/{pool}/{key.Address}");
        }
    }

    /// <summary>Returns a drained backend to rotation.</summary>
    public ChangeResult Enable(string service, string pool, string address)
    {
        lock (_writeLock)
        {
            var (key, backend) = RequireBackend(service, pool, address);
            if (!_overrides.TryGetValue(key, out var o) || !o.Drained) return Unchanged($"{key.Address} is not drained");
            o.Drained = false;
            o.DrainedSince = null;
            CleanOverride(key, o);
            return Publish($"enable {service}/{pool}/{key.Address}");
        }
    }

    private ChangeResult Assign(string service, Dictionary<string, int> next, string summary)
    {
        var t = RequireService(service);
        CancelRollout(service, $"superseded by {summary}");
        if (Shares.SameAs(t.Current, next)) return Unchanged($"{service} already at {Shares.Describe(next)}");
        t.PushHistory();
        t.Current = next;
        t.Source = AssignmentSource.Runtime;
        return Publish(summary);
    }

    private (BackendKey Key, BackendConfig Backend) RequireBackend(string service, string pool, string address)
    {
        var config = RequireServiceConfig(service);
        var poolConfig = RequirePool(config, pool);
        foreach (var b in poolConfig.Backends)
        {
            if (b.Address.ToString() == address) return (new BackendKey(service, pool, address), b);
        }
        var known = string.Join(", ", poolConfig.Backends.Select(b => b.Address.ToString()));
        throw new TrafficException($"unknown backend '{address}' in {service}/{pool}; backends are: {known}");
    }

    private BackendOverride GetOverride(BackendKey key, BackendConfig backend)
    {
        if (!_overrides.TryGetValue(key, out var o))
        {
            o = new BackendOverride(backend.Weight);
            _overrides[key] = o;
        }
        return o;
    }

    private void CleanOverride(BackendKey key, BackendOverride o)
    {
        if (o.IsEmpty) _overrides.Remove(key);
    }
}
