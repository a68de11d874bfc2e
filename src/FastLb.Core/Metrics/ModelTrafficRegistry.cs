using System.Collections.Concurrent;

namespace FastLb.Core.Metrics;

/// <summary>One <see cref="ModelCounters"/> per service, pool and model label, kept across swaps and reloads like the backend states.</summary>
internal sealed class ModelTrafficRegistry
{
    private readonly ConcurrentDictionary<(string Service, string Pool, string Model), ModelCounters> _counters = new();

    /// <summary>The counters of one series: a lock-free lookup after the first request of the series.</summary>
    public ModelCounters Get(string service, string pool, string model) =>
        _counters.TryGetValue((service, pool, model), out var counters)
            ? counters
            : _counters.GetOrAdd((service, pool, model), static k => new ModelCounters(k.Service, k.Pool, k.Model));

    /// <summary>Every series counted since start, by service, model and pool (control plane).</summary>
    public IReadOnlyList<ModelCounters> All() =>
        [.. _counters.Values
            .OrderBy(c => c.Service, StringComparer.Ordinal)
            .ThenBy(c => c.Model, StringComparer.Ordinal)
            .ThenBy(c => c.Pool, StringComparer.Ordinal)];
}
