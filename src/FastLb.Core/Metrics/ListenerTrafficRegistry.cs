using System.Collections.Concurrent;

namespace FastLb.Core.Metrics;

/// <summary>One <see cref="ListenerTraffic"/> per listener name, for the whole process life.</summary>
internal sealed class ListenerTrafficRegistry
{
    private readonly ConcurrentDictionary<string, ListenerTraffic> _listeners = new(StringComparer.Ordinal);

    public ListenerTraffic GetOrAdd(string name) => _listeners.GetOrAdd(name, static n => new ListenerTraffic(n));

    /// <summary>Every listener counted so far, by name.</summary>
    public IEnumerable<ListenerTraffic> All => _listeners.Values.OrderBy(l => l.Name, StringComparer.Ordinal);
}
