using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

/// <summary>
/// The control plane's single writer: owns the config, the runtime assignment of every service and the
/// backend overrides, builds routing tables from them and publishes each with one atomic exchange.
/// Every mutation holds <see cref="_writeLock"/>; the data plane only ever reads <see cref="Router.Current"/>.
/// </summary>
internal sealed partial class TrafficController(Router router, BackendStateRegistry registry, TimeProvider time)
{
    private readonly Lock _writeLock = new();
    private readonly Dictionary<string, ServiceTraffic> _traffic = new(StringComparer.Ordinal);
    private readonly Dictionary<BackendKey, BackendOverride> _overrides = [];
    private FastLbConfig? _config;
    private long _generation;

    public TrafficController(Router router) : this(router, new BackendStateRegistry(), TimeProvider.System)
    {
    }

    public Router Router { get; } = router;
    public BackendStateRegistry Registry { get; } = registry;

    /// <summary>Rolling per-backend, pool and service statistics, advanced by <see cref="Tick"/>.</summary>
    public TrafficStats Stats { get; } = new(registry, time);

    /// <summary>Recent operational events; the controller records traffic changes and drains, other components append theirs.</summary>
    public EventLog Events { get; } = new(time);

    /// <summary>
    /// The proxy's open connections, which a drain cuts at its deadline (those still on the drained backends). Set
    /// once the proxy exists; while null, a passed deadline cuts nothing.
    /// </summary>
    public IConnectionDirectory? Connections { get; set; }

    /// <summary>The config the current table was built from; null before the first load.</summary>
    public FastLbConfig? Config
    {
        get
        {
            lock (_writeLock) return _config;
        }
    }

    public long Generation => Router.Current.Generation;

    /// <summary>
    /// Loads a config (first start or reload). Runtime changes survive for every service whose traffic
    /// settings in the file did not change since the last load; where the file changed them, the file wins.
    /// </summary>
    public ChangeResult Load(FastLbConfig config)
    {
        lock (_writeLock)
        {
            var previous = _config;
            var changes = new List<string>();
            var keep = new HashSet<string>(StringComparer.Ordinal);
            var starts = new List<(string Service, string Pool, RolloutConfig Config, Dictionary<string, int>? Previous)>();
            foreach (var service in config.Services)
            {
                keep.Add(service.Name);
                var fileShares = new Dictionary<string, int>(service.Shares);
                if (!_traffic.TryGetValue(service.Name, out var t))
                {
                    _traffic[service.Name] = new ServiceTraffic(service.Name, fileShares);
                    continue;
                }
                if (Shares.SameAs(t.FileShares, fileShares))
                {
                    // File unchanged for this service: runtime assignment (and a running rollout) stays, unless the
                    // file's rollout block changed under a rollout it started: that one starts over with the new settings.
                    if (_rollouts.TryGetValue(service.Name, out var fileRun) && fileRun.FromFile && fileRun.Engine.IsActive
                        && service.Rollout is { } changed && !changed.SameAs(fileRun.Engine.Config))
                    {
                        CancelRollout(service.Name, "its rollout block changed in the file; starting over");
                        starts.Add((service.Name, fileRun.Engine.ToPool, changed, fileRun.Previous));
                    }
                    continue;
                }
                var reverting = _rollouts.TryGetValue(service.Name, out var active) && active.Engine.IsActive && ActivePool(fileShares) == active.Engine.BaselinePool;
                if (!reverting && service.Rollout is { } rollout && ActivePool(fileShares) is { } target && previous?.FindService(service.Name) is { } before
                    && SamePools(before, service) && t.Current.GetValueOrDefault(target) < 100 && BaselineOf(t.Current, target) is not null)
                {
                    // active: changed under a rollout block: move traffic step by step instead of all at once.
                    CancelRollout(service.Name, "the file's traffic settings changed");
                    t.FileShares = fileShares;
                    starts.Add((service.Name, target, rollout, null));
                    continue;
                }
                CancelRollout(service.Name, "the file's traffic settings changed");
                if (!Shares.SameAs(t.Current, fileShares))
                {
                    t.PushHistory();
                    changes.Add($"{service.Name}: {Shares.Describe(fileShares)} (from file)");
                }
                t.FileShares = fileShares;
                t.Current = new Dictionary<string, int>(fileShares);
                t.Source = AssignmentSource.File;
                t.PruneHistory(fileShares.Keys);
            }
            foreach (var name in _traffic.Keys.ToList())
            {
                if (!keep.Contains(name)) _traffic.Remove(name);
            }
            var fileWeights = FileWeights(config);
            ReconcileOverrides(fileWeights);
            _config = config;
            var verb = previous is null ? "loaded" : "reloaded";
            var summary = changes.Count == 0 ? $"config {verb}" : $"config {verb}; " + string.Join("; ", changes);
            foreach (var (name, run) in _rollouts.ToList())
            {
                if (!keep.Contains(name)) _rollouts.Remove(name);
                else if (config.FindService(name) is { } s && (s.FindPool(run.Engine.ToPool) is null || s.FindPool(run.Engine.BaselinePool) is null))
                {
                    CancelRollout(name, "a pool it uses left the file");
                }
            }
            var result = Publish(summary);
            // Backends the file no longer names leave the registry once idle; a draining one keeps its state in its drain entry.
            Registry.Prune(fileWeights.ContainsKey);
            foreach (var (name, pool, rollout, before) in starts)
            {
                try
                {
                    var started = StartRolloutLocked(name, pool, rollout, force: false, fromFile: true, previous: before);
                    result = started with { Summary = result.Summary + "; " + started.Summary };
                }
                catch (TrafficException e)
                {
                    // The file asked for it, but the gate (or the state) refuses: the running assignment stays.
                    Log.Error($"rollout {name} {pool} from the file refused: {e.Message}");
                    Events.Append("rollout", $"rollout {name} {pool} from the file refused: {e.Message}", name, pool, Router.Current.Generation, ok: false);
                    result = result with { Summary = result.Summary + $"; rollout {name} {pool} refused: {e.Message}" };
                }
            }
            return result;
        }
    }

    /// <summary>The pool an assignment gives everything (an `active:` line), or null for a split.</summary>
    private static string? ActivePool(IReadOnlyDictionary<string, int> shares)
    {
        string? active = null;
        foreach (var (pool, share) in shares)
        {
            if (share == 0) continue;
            if (active is not null) return null;
            active = pool;
        }
        return active;
    }

    private static bool SamePools(ServiceConfig a, ServiceConfig b) =>
        a.Pools.Count == b.Pools.Count && a.Pools.All(p => b.FindPool(p.Name) is not null);

    /// <summary>Every backend the file names, with the weight the file gives it.</summary>
    private static Dictionary<BackendKey, int> FileWeights(FastLbConfig config)
    {
        var fileWeights = new Dictionary<BackendKey, int>();
        foreach (var service in config.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var backend in pool.Backends)
                {
                    fileWeights[new BackendKey(service.Name, pool.Name, backend.Address.ToString())] = backend.Weight;
                }
            }
        }
        return fileWeights;
    }

    /// <summary>Drops backend overrides whose backend is gone or whose file weight was edited.</summary>
    private void ReconcileOverrides(Dictionary<BackendKey, int> fileWeights)
    {
        foreach (var (key, o) in _overrides.ToList())
        {
            if (!fileWeights.TryGetValue(key, out var weight) || weight != o.FileWeight)
            {
                _overrides.Remove(key);
            }
        }
    }

    /// <summary>Builds the next generation aside and publishes it; caller holds the write lock.</summary>
    /// <param name="trackDrains">False when the drains were set as a whole (a handed-over state), not changed by this table.</param>
    private ChangeResult Publish(string summary, bool quiet = false, bool trackDrains = true)
    {
        var config = _config ?? throw new InvalidOperationException("no config loaded");
        var next = RoutingTableBuilder.Build(config, _generation + 1, _traffic, _overrides, Registry);
        _generation = next.Generation;
        var old = Router.Publish(next);
        if (quiet) Log.Debug($"publish generation={next.Generation} {summary}");
        else Log.Info($"publish generation={next.Generation} {summary}");
        RecordChange(summary, next.Generation);
        if (trackDrains) UpdateDrains(old, next);
        LogPanicChanges(old, next);
        return new ChangeResult(next.Generation, true, summary);
    }

    /// <summary>A ctl change becomes an event (loads are recorded by whoever reloads, with the result).</summary>
    private void RecordChange(string summary, long generation)
    {
        var words = summary.Split(' ', 3);
        if (words[0] is not ("swap" or "split" or "rollback" or "weight" or "drain" or "enable")) return;
        var target = words.Length > 1 ? words[1].Split('/') : [];
        Events.Append(words[0], summary, target.Length > 0 ? target[0] : null, target.Length > 1 ? target[1] : null, generation);
    }

    private ChangeResult Unchanged(string summary) => new(Router.Current.Generation, false, summary);

    private ServiceTraffic RequireService(string service)
    {
        if (_traffic.TryGetValue(service, out var t)) return t;
        throw new TrafficException($"unknown service '{service}'; services are: {string.Join(", ", _traffic.Keys)}");
    }

    private ServiceConfig RequireServiceConfig(string service) =>
        _config?.FindService(service) ?? throw new TrafficException($"unknown service '{service}'; services are: {string.Join(", ", _traffic.Keys)}");

    private static PoolConfig RequirePool(ServiceConfig service, string pool) =>
        service.FindPool(pool) ?? throw new TrafficException($"unknown pool '{pool}' in service '{service.Name}'; pools are: {PoolNames(service)}");

    private static string PoolNames(ServiceConfig service) => string.Join(", ", service.Pools.Select(p => p.Name));
}
