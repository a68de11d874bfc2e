using FastLb.Core.Config;
using FastLb.Core.Limits;
using Xunit;

namespace FastLb.Tests.Limits;

/// <summary>token_limits buckets: entered while not empty, charged with usage, refilled by the minute, kept across reloads.</summary>
public sealed class TokenLimiterTests
{
    private readonly SteppedClock _clock = new();

    private static TokenLimitsConfig PerKey(long perMinute, long burst) => new() { PerKey = new TokenRate(perMinute, burst) };

    [Fact]
    public void TryEnter_KeyOverBurst_RefusedWithWaitUntilBelowItThenRefills()
    {
        var limiter = new TokenLimiter("ai", _clock);
        var limits = PerKey(600, 100); // 10 tokens a second

        Assert.True(limiter.TryEnter(limits, hasKey: true, 1, out _, out _));
        limiter.Charge(limits, hasKey: true, 1, 125); // a response may overdraw: 25 owed beyond the burst

        Assert.False(limiter.TryEnter(limits, hasKey: true, 1, out var retryAfter, out var byKey));
        Assert.True(byKey);
        Assert.Equal(3, retryAfter); // 25 tokens at 10/s: 2.5 s, rounded up
        _clock.Advance(TimeSpan.FromSeconds(2.4));
        Assert.False(limiter.TryEnter(limits, hasKey: true, 1, out _, out _));
        _clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(limiter.TryEnter(limits, hasKey: true, 1, out _, out _));
        Assert.Equal(2, limiter.RejectedByKey);
    }

    [Fact]
    public void TryEnter_OneKeyEmpty_OtherKeysAndKeylessUnaffected()
    {
        var limiter = new TokenLimiter("ai", _clock);
        var limits = PerKey(60, 10);
        limiter.Charge(limits, hasKey: true, 1, 50);

        Assert.False(limiter.TryEnter(limits, hasKey: true, 1, out _, out _));
        Assert.True(limiter.TryEnter(limits, hasKey: true, 2, out _, out _));
        Assert.True(limiter.TryEnter(limits, hasKey: false, 0, out _, out _));
    }

    [Fact]
    public void TryEnter_ListenerBucket_EveryRequestDrawsFromIt()
    {
        var limiter = new TokenLimiter("ai", _clock);
        var limits = new TokenLimitsConfig { Listener = new TokenRate(60, 10) };
        limiter.Charge(limits, hasKey: true, 1, 6);
        limiter.Charge(limits, hasKey: false, 0, 6);

        Assert.False(limiter.TryEnter(limits, hasKey: true, 2, out var retryAfter, out var byKey));
        Assert.False(byKey);
        Assert.Equal(3, retryAfter); // 2 tokens beyond the burst at 1/s: just over 2 s
        Assert.Equal(1, limiter.RejectedByListener);
    }

    [Fact]
    public void Reload_SameSizeKeepsTheBucket_ChangedSizeStartsFull()
    {
        var limiter = new TokenLimiter("ai", _clock);
        limiter.Charge(PerKey(60, 10), hasKey: true, 1, 50);

        Assert.False(limiter.TryEnter(PerKey(60, 10), hasKey: true, 1, out _, out _)); // an equal config after a reload
        Assert.True(limiter.TryEnter(PerKey(120, 10), hasKey: true, 1, out _, out _));
    }

    [Fact]
    public void Charge_MaxKeysReached_FullBucketsMakeRoomOwedOnesStay()
    {
        var limiter = new TokenLimiter("ai", _clock);
        var limits = new TokenLimitsConfig { PerKey = new TokenRate(60, 100), MaxKeys = 2 };
        limiter.Charge(limits, hasKey: true, 1, 1);
        limiter.Charge(limits, hasKey: true, 2, 50);
        _clock.Advance(TimeSpan.FromSeconds(2)); // key 1 has refilled, key 2 still owes 48

        limiter.Charge(limits, hasKey: true, 3, 1);
        limiter.Charge(limits, hasKey: true, 4, 1); // no room: 2 and 3 are owed tokens

        Assert.Equal(2, limiter.Keys);
        Assert.Equal(1, limiter.Untracked);
    }

    [Fact]
    public void KeySeries_BoundedToMaxKeySeries_RestCountedAsOther()
    {
        var limiter = new TokenLimiter("ai", _clock);
        var limits = PerKey(60_000, 60_000);
        for (ulong k = 0; k < TokenLimiter.MaxKeySeries + 5; k++) limiter.Charge(limits, hasKey: true, k, 2);

        var series = limiter.KeySeries();

        Assert.Equal(TokenLimiter.MaxKeySeries + 1, series.Count);
        Assert.Equal(("other", 10L), (series[^1].Id, series[^1].Tokens));
        Assert.All(series.SkipLast(1), s => Assert.Matches("^[0-9a-f]{16}$", s.Id));
    }
}
