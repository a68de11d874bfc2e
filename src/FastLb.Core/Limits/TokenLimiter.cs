using System.Collections.Concurrent;
using System.Globalization;
using FastLb.Core.Config;

namespace FastLb.Core.Limits;

/// <summary>
/// The token buckets of one listener (`token_limits:`), kept by listener name across reloads, in this process's memory:
/// one for the listener and one per API key (by a hash of the key; the key itself is never kept). A reload keeps every
/// bucket whose size it did not change. Keys are counted for /metrics under their own id up to
/// <see cref="MaxKeySeries"/> keys, the rest together under "other".
/// </summary>
/// <remarks>
/// Per request: a dictionary lookup and a timestamp read to enter; a CAS to charge. A key gets a bucket only when it
/// is first charged, and only a bucket that is owed tokens needs to be kept: full buckets are dropped when the table
/// reaches max_keys (a new bucket starts full, so nothing is lost).
/// </remarks>
internal sealed class TokenLimiter(string listener, TimeProvider time)
{
    /// <summary>API keys with their own series in /metrics per listener; others are summed under key="other".</summary>
    public const int MaxKeySeries = 100;

    private readonly ConcurrentDictionary<ulong, TokenBucket> _keys = new();
    private readonly ConcurrentDictionary<ulong, ApiKeyTokens> _series = new();
    private readonly ApiKeyTokens _other = new("other");
    private readonly Lock _sweepLock = new();
    private TokenBucket? _listener;
    private long _rejectedByListener;
    private long _rejectedByKey;
    private long _untracked;

    public TokenLimiter(string listener) : this(listener, TimeProvider.System)
    {
    }

    public string Listener { get; } = listener;

    /// <summary>Requests answered 429 because the listener's bucket was empty.</summary>
    public long RejectedByListener => Interlocked.Read(ref _rejectedByListener);

    /// <summary>Requests answered 429 because their key's bucket was empty.</summary>
    public long RejectedByKey => Interlocked.Read(ref _rejectedByKey);

    /// <summary>Charges of keys that got no bucket because max_keys buckets were owed tokens.</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    /// <summary>API keys holding a bucket now.</summary>
    public int Keys => _keys.Count;

    /// <summary>Tokens charged per key id (at most <see cref="MaxKeySeries"/>), then "other" when any went there.</summary>
    public IReadOnlyList<ApiKeyTokens> KeySeries()
    {
        var list = _series.Values.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
        if (_other.Tokens > 0 || _other.Rejected > 0) list.Add(_other);
        return list;
    }

    /// <summary>
    /// Whether a request may start: false when the listener's bucket or its key's is empty, with the seconds to wait
    /// (at least 1) and whether the key's bucket was the one.
    /// </summary>
    public bool TryEnter(TokenLimitsConfig limits, bool hasKey, ulong key, out int retryAfterSeconds, out bool byKey)
    {
        var now = time.GetTimestamp();
        long wait = 0;
        byKey = false;
        if (limits.Listener is { } rate && ListenerBucket(rate, now).TryEnter(now, out var listenerWait) is false) wait = listenerWait;
        if (hasKey && limits.PerKey is { } keyRate && _keys.TryGetValue(key, out var bucket) && bucket.Rate.Equals(keyRate)
            && !bucket.TryEnter(now, out var keyWait) && keyWait > wait)
        {
            wait = keyWait;
            byKey = true;
        }
        if (wait == 0)
        {
            retryAfterSeconds = 0;
            return true;
        }
        if (byKey)
        {
            Interlocked.Increment(ref _rejectedByKey);
            Series(key).Reject();
        }
        else
        {
            Interlocked.Increment(ref _rejectedByListener);
        }
        retryAfterSeconds = (int)Math.Clamp((wait + time.TimestampFrequency - 1) / time.TimestampFrequency, 1, int.MaxValue);
        return false;
    }

    /// <summary>Charges a finished response's <paramref name="tokens"/> to the listener's bucket and the key's.</summary>
    public void Charge(TokenLimitsConfig limits, bool hasKey, ulong key, long tokens)
    {
        if (tokens <= 0) return;
        var now = time.GetTimestamp();
        if (limits.Listener is { } rate) ListenerBucket(rate, now).Charge(tokens, now);
        if (!hasKey) return;
        Series(key).Add(tokens);
        if (limits.PerKey is not { } keyRate) return;
        if (!_keys.TryGetValue(key, out var bucket) || !bucket.Rate.Equals(keyRate))
        {
            if (_keys.Count >= limits.MaxKeys && !Sweep(now, limits.MaxKeys))
            {
                Interlocked.Increment(ref _untracked);
                return;
            }
            bucket = _keys.AddOrUpdate(key,
                static (_, s) => new TokenBucket(s.Rate, s.Now, s.Frequency),
                static (_, old, s) => old.Rate.Equals(s.Rate) ? old : new TokenBucket(s.Rate, s.Now, s.Frequency),
                (Rate: keyRate, Now: now, Frequency: time.TimestampFrequency));
        }
        bucket.Charge(tokens, now);
    }

    /// <summary>The listener's bucket for <paramref name="rate"/>: the one in force, or a new full one when a reload changed the size.</summary>
    private TokenBucket ListenerBucket(TokenRate rate, long now)
    {
        var bucket = Volatile.Read(ref _listener);
        if (bucket is not null && bucket.Rate.Equals(rate)) return bucket;
        var fresh = new TokenBucket(rate, now, time.TimestampFrequency);
        return Interlocked.CompareExchange(ref _listener, fresh, bucket) == bucket ? fresh : Volatile.Read(ref _listener)!;
    }

    /// <summary>Drops full buckets; true when there is room for another key afterwards.</summary>
    private bool Sweep(long now, int maxKeys)
    {
        lock (_sweepLock)
        {
            if (_keys.Count < maxKeys) return true;
            foreach (var (k, b) in _keys)
            {
                if (b.IsFull(now)) _keys.TryRemove(k, out _);
            }
            return _keys.Count < maxKeys;
        }
    }

    private ApiKeyTokens Series(ulong key)
    {
        if (_series.TryGetValue(key, out var series)) return series;
        if (_series.Count >= MaxKeySeries) return _other;
        return _series.GetOrAdd(key, static k => new ApiKeyTokens(k.ToString("x16", CultureInfo.InvariantCulture)));
    }
}
