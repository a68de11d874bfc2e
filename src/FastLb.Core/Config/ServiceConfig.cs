namespace FastLb.Core.Config;

/// <summary>A named service: its pools of backends, how it balances and how traffic splits across pools.</summary>
internal sealed class ServiceConfig
{
    public required string Name { get; init; }
    public BalanceKind Balance { get; init; } = BalanceKind.RoundRobin;
    public HashOn HashOn { get; init; } = HashOn.ClientIp;

    /// <summary>Pools in file order.</summary>
    public required IReadOnlyList<PoolConfig> Pools { get; init; }

    /// <summary>Share per pool name, always complete (every pool present, 0 when idle); from `active:` or `split:`.</summary>
    public required IReadOnlyDictionary<string, int> Shares { get; init; }

    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>HTTP: the longest gap between bytes of a server-sent event stream (<c>text/event-stream</c>) response body.</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = DefaultStreamIdleTimeout;

    public static readonly TimeSpan DefaultStreamIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The service's active health check; a pool may override it (<see cref="PoolConfig.HealthCheck"/>). Null = none.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }

    /// <summary>What a checked backend counts as before its first check.</summary>
    public InitialHealth InitialState { get; init; } = InitialHealth.Unknown;

    /// <summary>Passive health; null = backends are never ejected.</summary>
    public OutlierConfig? Outlier { get; init; }

    /// <summary>Percent: below this share of healthy backends a pool ignores health (0 = off).</summary>
    public int PanicThreshold { get; init; }

    /// <summary>How long a returning backend ramps from 10% to full weight (zero = off).</summary>
    public TimeSpan SlowStart { get; init; }

    /// <summary>Release gate: swap/split refuse a pool with fewer healthy backends than this percent (with a check configured).</summary>
    public int MinHealthyPercent { get; init; } = 100;

    /// <summary>The check that applies to <paramref name="pool"/>: its own, else the service's.</summary>
    public HealthCheckConfig? CheckFor(PoolConfig pool) => pool.HealthCheck ?? HealthCheck;

    /// <summary>`sticky_split:`: during a split a client keeps the pool it was first given; null = every request is split anew.</summary>
    public StickySplitConfig? StickySplit { get; init; }

    /// <summary>`rollout:`: when a reload changes `active:`, traffic moves to the new pool step by step; null = at once.</summary>
    public RolloutConfig? Rollout { get; init; }

    /// <summary>`fallback:` (HTTP): where a request goes next after a 429, 503, connect failure or timeout before any response byte; null = nowhere.</summary>
    public FallbackConfig? Fallback { get; init; }

    /// <summary>HTTP: rewrite the Host header to the backend's address instead of keeping the client's.</summary>
    public bool RewriteHost { get; init; }

    /// <summary>send_proxy: the PROXY protocol version sent to backends ahead of each connection (1 or 2); 0 = none.</summary>
    public int SendProxy { get; init; }

    /// <summary>tls: FastLb speaks TLS to this service's backends (HTTP and TCP); null = plain.</summary>
    public UpstreamTlsConfig? Tls { get; init; }

    public PoolConfig? FindPool(string name)
    {
        foreach (var p in Pools)
        {
            if (p.Name == name) return p;
        }
        return null;
    }
}
