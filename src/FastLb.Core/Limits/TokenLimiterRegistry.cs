using System.Collections.Concurrent;

namespace FastLb.Core.Limits;

/// <summary>One <see cref="TokenLimiter"/> per listener name, for the whole process life (buckets survive reloads).</summary>
internal sealed class TokenLimiterRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TokenLimiter> _limiters = new(StringComparer.Ordinal);

    public TokenLimiterRegistry() : this(TimeProvider.System)
    {
    }

    public TokenLimiter GetOrAdd(string listener) => _limiters.GetOrAdd(listener, static (n, t) => new TokenLimiter(n, t), time);

    /// <summary>Every listener that had token limits since start, by name.</summary>
    public IEnumerable<TokenLimiter> All => _limiters.Values.OrderBy(l => l.Listener, StringComparer.Ordinal);
}
