using System.Collections.Frozen;
using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>Immutable snapshot of everything the data plane routes by; one per generation.</summary>
internal sealed class RoutingTable(
    long generation,
    FastLbConfig config,
    FrozenDictionary<string, ServiceSnapshot> services,
    FrozenDictionary<string, ListenerRoutes>? listeners = null)
{
    public static readonly RoutingTable Empty = new(0, new FastLbConfig { SourcePath = "<empty>" }, FrozenDictionary<string, ServiceSnapshot>.Empty);

    public long Generation { get; } = generation;
    public FastLbConfig Config { get; } = config;
    public FrozenDictionary<string, ServiceSnapshot> Services { get; } = services;

    /// <summary>Compiled routes per HTTP listener name.</summary>
    public FrozenDictionary<string, ListenerRoutes> Listeners { get; } = listeners ?? FrozenDictionary<string, ListenerRoutes>.Empty;

    public ListenerRoutes? FindListener(string name) => Listeners.TryGetValue(name, out var l) ? l : null;

    public ServiceSnapshot? FindService(string name) => Services.TryGetValue(name, out var s) ? s : null;
}
