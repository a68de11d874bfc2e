namespace FastLb.Core.Config;

/// <summary>`sticky_split:` of a service: during a split, a client stays on the pool it was first given.</summary>
internal sealed class StickySplitConfig
{
    public const string DefaultCookie = "fastlb_pool";
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(1);

    /// <summary>What keeps a client on its pool: a cookie naming the pool (HTTP), or a hash of the client address.</summary>
    public StickyBy By { get; init; } = StickyBy.Cookie;

    public string Cookie { get; init; } = DefaultCookie;

    /// <summary>How long the cookie lives in the browser (Max-Age).</summary>
    public TimeSpan Ttl { get; init; } = DefaultTtl;
}
