using System.Collections.Concurrent;
using System.Net;

namespace FastLb.Core.Routing;

/// <summary>Keeps one <see cref="BackendState"/> per service/pool/address so counters survive swaps and reloads.</summary>
internal sealed class BackendStateRegistry
{
    private readonly ConcurrentDictionary<BackendKey, BackendState> _states = new();

    public BackendState GetOrAdd(string service, string pool, string address, IPEndPoint? endPoint) =>
        _states.GetOrAdd(new BackendKey(service, pool, address), static (k, ep) => new BackendState(k.Service, k.Pool, k.Address, ep), endPoint);

    public BackendState? Find(string service, string pool, string address) =>
        _states.TryGetValue(new BackendKey(service, pool, address), out var s) ? s : null;

    public IEnumerable<BackendState> All => _states.Values;

    /// <summary>Forgets states no longer in any table and without live connections.</summary>
    public void Prune(Func<BackendKey, bool> stillConfigured)
    {
        foreach (var (key, state) in _states)
        {
            if (!stillConfigured(key) && state.Live == 0) _states.TryRemove(key, out _);
        }
    }
}
