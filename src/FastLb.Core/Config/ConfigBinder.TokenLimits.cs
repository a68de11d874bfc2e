namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] TokenLimitsKeys = ["tokens_per_minute", "burst", "per_key", "max_keys"];
    private static readonly string[] PerKeyKeys = ["tokens_per_minute", "burst"];
    private const int MaxTokensPerMinute = 2_000_000_000;
    private const int MaxTokenKeys = 10_000_000;

    /// <summary>`token_limits: { tokens_per_minute: N, burst: N, per_key: { tokens_per_minute: N, burst: N }, max_keys: N }` of an http listener.</summary>
    private TokenLimitsConfig? BindTokenLimits(ConfigEntry entry, ListenerProtocol? protocol, string context)
    {
        var where = $"token_limits of {context}";
        if (protocol == ListenerProtocol.Tcp)
        {
            Error(entry.Key, $"'token_limits' is only for http listeners; tcp {context} reads no requests");
            return null;
        }
        var f = Fields(entry.Value, where, TokenLimitsKeys);
        if (f is null) return null;
        var before = _errors.Count;
        var listener = BindTokenRate(entry, f, where, required: false);
        TokenRate? perKey = null;
        if (f.TryGetValue("per_key", out var perKeyEntry) && Fields(perKeyEntry.Value, $"per_key of {where}", PerKeyKeys) is { } pf)
        {
            perKey = BindTokenRate(perKeyEntry, pf, $"per_key of {where}", required: true);
        }
        var maxKeys = f.TryGetValue("max_keys", out var maxEntry) ? Int(maxEntry, 1, MaxTokenKeys) ?? TokenLimitsConfig.DefaultMaxKeys : TokenLimitsConfig.DefaultMaxKeys;
        if (_errors.Count > before) return null;
        if (listener is null && perKey is null)
        {
            Error(entry.Key, $"{where} sets no limit; add tokens_per_minute (every request of the listener) or per_key: {{ tokens_per_minute: N }} (each API key)");
            return null;
        }
        return new TokenLimitsConfig { Listener = listener, PerKey = perKey, MaxKeys = maxKeys };
    }

    /// <summary>tokens_per_minute and burst (default: one minute's tokens) of one bucket; null when absent and not required.</summary>
    private TokenRate? BindTokenRate(ConfigEntry entry, OrderedDictionary<string, ConfigEntry> f, string where, bool required)
    {
        if (!f.TryGetValue("tokens_per_minute", out var rateEntry))
        {
            if (required || f.ContainsKey("burst")) Error(entry.Key, $"{where} needs tokens_per_minute, e.g. tokens_per_minute: 60000");
            return null;
        }
        var rate = Int(rateEntry, 1, MaxTokensPerMinute);
        if (rate is null) return null;
        var burst = f.TryGetValue("burst", out var burstEntry) ? Int(burstEntry, 1, MaxTokensPerMinute) : rate;
        return burst is null ? null : new TokenRate(rate.Value, burst.Value);
    }
}
