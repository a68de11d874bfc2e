using FastLb.Core.Config;

namespace FastLb.Core.Limits;

/// <summary>
/// A token bucket as GCRA (generic cell rate algorithm, ITU-T I.371): one timestamp, the "theoretical arrival time"
/// at which the bucket would be full again; O(1), lock-free (one CAS per charge). A request may start while fewer
/// than <see cref="TokenRate.Burst"/> tokens are owed; its tokens are charged when its response ended, so a bucket
/// may run into debt by the last response's size, which later requests wait out.
/// </summary>
internal sealed class TokenBucket
{
    private readonly double _ticksPerToken;
    private readonly long _tolerance; // burst, in ticks
    private long _fullAt;             // timestamp at which nothing is owed any more; <= now: full

    public TokenBucket(TokenRate rate, long now, long ticksPerSecond)
    {
        Rate = rate;
        _ticksPerToken = 60.0 * ticksPerSecond / rate.TokensPerMinute;
        _tolerance = (long)Math.Min(long.MaxValue / 4, rate.Burst * _ticksPerToken);
        _fullAt = now;
    }

    /// <summary>The size this bucket was made with: a reload that keeps it keeps the bucket.</summary>
    public TokenRate Rate { get; }

    /// <summary>True when a request may start at <paramref name="now"/>; else <paramref name="waitTicks"/> is how long until it may.</summary>
    public bool TryEnter(long now, out long waitTicks)
    {
        var owed = Volatile.Read(ref _fullAt) - now;
        if (owed < _tolerance)
        {
            waitTicks = 0;
            return true;
        }
        waitTicks = owed - _tolerance + 1;
        return false;
    }

    /// <summary>Takes <paramref name="tokens"/> out (a response's usage).</summary>
    public void Charge(long tokens, long now)
    {
        if (tokens <= 0) return;
        var cost = (long)Math.Min(long.MaxValue / 4, tokens * _ticksPerToken);
        while (true)
        {
            var fullAt = Volatile.Read(ref _fullAt);
            var next = Math.Min(Math.Max(fullAt, now) + cost, now + long.MaxValue / 2);
            if (Interlocked.CompareExchange(ref _fullAt, next, fullAt) == fullAt) return;
        }
    }

    /// <summary>Nothing is owed at <paramref name="now"/>: dropping the bucket loses nothing (a new one starts full).</summary>
    public bool IsFull(long now) => Volatile.Read(ref _fullAt) <= now;

    /// <summary>Tokens a request could still draw at <paramref name="now"/> (negative: owed beyond the burst).</summary>
    public long Available(long now) => (long)((_tolerance - Math.Max(0, Volatile.Read(ref _fullAt) - now)) / _ticksPerToken);
}
