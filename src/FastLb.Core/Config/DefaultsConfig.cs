namespace FastLb.Core.Config;

/// <summary>Timeouts every service inherits unless it sets its own.</summary>
internal sealed class DefaultsConfig
{
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>HTTP: a client must send its whole request head within this time (slowloris guard).</summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>HTTP: the upstream must send its response head within this time, else 504.</summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>HTTP: an idle client keep-alive connection is closed after this time.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>HTTP: an idle pooled upstream connection is closed after this time.</summary>
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>TCP: how tcp listeners relay bytes (splice or pipes); server-wide.</summary>
    public TcpRelayMode TcpRelay { get; init; } = TcpRelayMode.Splice;
}
