using System.Collections.Concurrent;
using System.Net;
using FastLb.Core.Health;

namespace FastLb.Core.Routing;

/// <summary>Keeps one <see cref="BackendState"/> per service/pool/address so counters survive swaps and reloads.</summary>
internal sealed class BackendStateRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<BackendKey, BackendState> _states = new();
    private readonly ConcurrentDictionary<(string Service, string Pool), PoolEjectionBudget> _budgets = new();
    private readonly ConcurrentDictionary<(string Service, string Pool), MirrorState> _mirrors = new();

    // Every state, rebuilt when one is added or pruned (config loads), so the once-a-second walks of the tick read
    // an array: ConcurrentDictionary.Values copies into a new list on every read, and an idle process should not
    // allocate ten times a second.
    private readonly Lock _snapshotLock = new();
    private BackendState[] _all = [];

    public BackendStateRegistry() : this(TimeProvider.System)
    {
    }

    public TimeProvider Time { get; } = time;

    /// <summary>Fallbacks of every service (`fallback:`), kept across swaps and reloads like the backend states.</summary>
    public FallbackCounters Fallbacks { get; } = new();

    /// <summary>Per-model counters of model listeners (service, pool, model), kept across swaps and reloads like the backend states.</summary>
    public Metrics.ModelTrafficRegistry Models { get; } = new();

    public BackendState GetOrAdd(string service, string pool, string address, IPEndPoint? endPoint)
    {
        var key = new BackendKey(service, pool, address);
        if (_states.TryGetValue(key, out var existing)) return existing;
        lock (_snapshotLock)
        {
            var state = _states.GetOrAdd(key, static (k, s) => new BackendState(k.Service, k.Pool, k.Address, s.endPoint, s.time), (endPoint, time: Time));
            if (Array.IndexOf(_all, state) < 0) Volatile.Write(ref _all, [.. _all, state]);
            return state;
        }
    }

    /// <summary>The ejection budget of one pool; kept across swaps and reloads like the backend states.</summary>
    public PoolEjectionBudget Budget(string service, string pool) => _budgets.GetOrAdd((service, pool), static _ => new PoolEjectionBudget());

    /// <summary>The copy counters of one mirror pool; kept across swaps and reloads like the backend states.</summary>
    public MirrorState Mirror(string service, string pool) => _mirrors.GetOrAdd((service, pool), static k => new MirrorState(k.Service, k.Pool));

    /// <summary>Every mirror pool that was configured since start, for status and /metrics.</summary>
    public IReadOnlyList<MirrorState> Mirrors() => [.. _mirrors.Values.OrderBy(m => m.Service, StringComparer.Ordinal).ThenBy(m => m.Pool, StringComparer.Ordinal)];

    /// <summary>Every backend's health, for a successor process (binary upgrade).</summary>
    public IReadOnlyList<KeyValuePair<BackendKey, BackendHealthRecord>> ExportHealth()
    {
        var result = new List<KeyValuePair<BackendKey, BackendHealthRecord>>();
        foreach (var (key, state) in _states) result.Add(new(key, state.Health.Export()));
        return result;
    }

    /// <summary>Restores health exported by a predecessor; entries for backends not configured here create their state, which a later prune drops.</summary>
    public void ImportHealth(IEnumerable<KeyValuePair<BackendKey, BackendHealthRecord>> records)
    {
        foreach (var (key, record) in records)
        {
            GetOrAdd(key.Service, key.Pool, key.Address, null).Health.Import(record);
        }
    }

    public BackendState? Find(string service, string pool, string address) =>
        _states.TryGetValue(new BackendKey(service, pool, address), out var s) ? s : null;

    /// <summary>Every backend state, as of the last add or prune.</summary>
    public IReadOnlyList<BackendState> All => Volatile.Read(ref _all);

    /// <summary>Forgets states no longer in any table and without live connections.</summary>
    public void Prune(Func<BackendKey, bool> stillConfigured)
    {
        lock (_snapshotLock)
        {
            foreach (var (key, state) in _states)
            {
                if (!stillConfigured(key) && state.Live == 0) _states.TryRemove(key, out _);
            }
            Volatile.Write(ref _all, [.. _states.Values]);
        }
    }
}
