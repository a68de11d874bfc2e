using System.Collections.Concurrent;

namespace FastLb.Core.Metrics;

/// <summary>One <see cref="ModelCounters"/> per service, pool and model label, kept across swaps and reloads like the backend states.</summary>
internal sealed class ModelTrafficRegistry
{
    private readonly ConcurrentDictionary<(string Service, string Pool, string Model), ModelCounters> _counters = new();
    private readonly Lock _addLock = new();
    private ModelCounters[] _series = []; // copied on add (a series' first request): the stats tick walks it without allocating

    /// <summary>The counters of one series: a lock-free lookup after the first request of the series.</summary>
    public ModelCounters Get(string service, string pool, string model) =>
        _counters.TryGetValue((service, pool, model), out var counters) ? counters : Add(service, pool, model);

    /// <summary>Every series, in the order they were created (for the once-a-second tick).</summary>
    public ModelCounters[] Series => Volatile.Read(ref _series);

    /// <summary>Every series counted since start, by service, model and pool (control plane).</summary>
    public IReadOnlyList<ModelCounters> All() =>
        [.. Series
            .OrderBy(c => c.Service, StringComparer.Ordinal)
            .ThenBy(c => c.Model, StringComparer.Ordinal)
            .ThenBy(c => c.Pool, StringComparer.Ordinal)];

    private ModelCounters Add(string service, string pool, string model)
    {
        lock (_addLock)
        {
            if (_counters.TryGetValue((service, pool, model), out var existing)) return existing;
            var counters = new ModelCounters(service, pool, model);
            Volatile.Write(ref _series, [.. _series, counters]);
            _counters[(service, pool, model)] = counters;
            return counters;
        }
    }
}
