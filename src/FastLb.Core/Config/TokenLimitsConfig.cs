namespace FastLb.Core.Config;

/// <summary>
/// `token_limits:` of an http listener: token buckets checked when a request arrives and charged with the tokens its
/// response reported (usage.total_tokens). Kept in this process's memory only.
/// </summary>
internal sealed class TokenLimitsConfig
{
    public const int DefaultMaxKeys = 100_000;

    /// <summary>One bucket every request of the listener draws from; null = none.</summary>
    public TokenRate? Listener { get; init; }

    /// <summary>A bucket per API key (x-api-key, or the Authorization bearer token), each this size; null = none.</summary>
    public TokenRate? PerKey { get; init; }

    /// <summary>The most API keys with a bucket at once (only keys that used tokens and did not refill yet need one).</summary>
    public int MaxKeys { get; init; } = DefaultMaxKeys;
}
