using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>A route's mirror in one table generation: the settings, the pool's snapshot and its long-lived counters.</summary>
internal sealed class MirrorTarget(MirrorConfig config, ServiceSnapshot service, PoolSnapshot pool, MirrorState state)
{
    // Percent as a threshold on 53 random bits, so the per-request check is one draw and one compare.
    private readonly long _threshold = (long)(config.Percent / 100 * (1L << 53));

    public MirrorConfig Config { get; } = config;
    public ServiceSnapshot Service { get; } = service;
    public PoolSnapshot Pool { get; } = pool;
    public MirrorState State { get; } = state;

    /// <summary>Whether this request is one of the configured percent (random draw; <paramref name="random"/> for tests).</summary>
    public bool Sample(Random? random = null)
    {
        if (Config.Percent >= 100) return true;
        if (Config.Percent <= 0) return false;
        return (long)(ThreadRandom.Next(random) >> 11) < _threshold;
    }
}
