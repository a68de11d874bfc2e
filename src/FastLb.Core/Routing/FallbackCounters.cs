using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>
/// Fallbacks counted by service, from, to and reason; kept across swaps and reloads (one per process). The series are
/// bounded by the config: from is a pool of the routed service or of a fallback target, to an entry of `fallback.to`.
/// </summary>
/// <remarks>Only a request that falls back touches it: a lookup of an existing series neither locks nor allocates.</remarks>
internal sealed class FallbackCounters
{
    private readonly ConcurrentDictionary<FallbackKey, StrongBox<long>> _counts = new();

    public void Add(string service, string fromService, string fromPool, string to, FallbackReasons reason)
    {
        var key = new FallbackKey(service, fromService, fromPool, to, reason);
        if (!_counts.TryGetValue(key, out var count)) count = _counts.GetOrAdd(key, static _ => new StrongBox<long>());
        Interlocked.Increment(ref count.Value);
    }

    /// <summary>Every series so far, sorted, for /metrics.</summary>
    public IReadOnlyList<(FallbackKey Key, long Count)> Snapshot() =>
        [.. _counts.Select(kv => (kv.Key, Interlocked.Read(ref kv.Value.Value)))
            .OrderBy(s => s.Key.Service, StringComparer.Ordinal).ThenBy(s => s.Key.FromService, StringComparer.Ordinal).ThenBy(s => s.Key.FromPool, StringComparer.Ordinal)
            .ThenBy(s => s.Key.To, StringComparer.Ordinal).ThenBy(s => s.Key.Reason)];
}
