using System.Diagnostics;

namespace FastLb.Core.Metrics;

/// <summary>
/// Counters of one model on one pool (service, pool, model label), one shard per event loop like
/// <see cref="TrafficCounters"/>: the data plane adds with plain stores, no lock and no allocation once its shard exists.
/// </summary>
internal sealed class ModelCounters(string service, string pool, string model)
{
    private static readonly double MicrosPerTick = 1e6 / Stopwatch.Frequency;

    private readonly long[]?[] _shards = new long[]?[CounterShard.Count];

    public string Service { get; } = service;
    public string Pool { get; } = pool;

    /// <summary>The model label: a name from the config, a prefix ending in '*', or one of <see cref="ModelLabels"/>' folded values.</summary>
    public string Model { get; } = model;

    /// <summary>The last minute of the series, second by second (control plane: <see cref="TrafficStats.Tick"/> fills it).</summary>
    public SecondBuckets Window { get; } = new(ModelField.Count, ModelField.Count);

    /// <summary>Counts one request that ended.</summary>
    /// <param name="firstByteTicks">Stopwatch ticks from the request head to the first response byte, or negative when none came.</param>
    /// <param name="streamTicks">The whole request's ticks when the response was an event stream, else negative.</param>
    public void Record(int status, long firstByteTicks, long streamTicks, long promptTokens, long completionTokens)
    {
        var index = CounterShard.Current;
        var s = _shards[index] ?? CreateShard(index);
        var shared = index == 0;
        Add(s, ModelField.Requests, 1, shared);
        if (status == 429) Add(s, ModelField.Status429, 1, shared);
        if (promptTokens > 0) Add(s, ModelField.PromptTokens, promptTokens, shared);
        if (completionTokens > 0) Add(s, ModelField.CompletionTokens, completionTokens, shared);
        if (firstByteTicks >= 0) Observe(s, ModelField.FirstByteBins, ModelField.FirstByteSumMicros, firstByteTicks, shared);
        if (streamTicks >= 0) Observe(s, ModelField.StreamBins, ModelField.StreamSumMicros, streamTicks, shared);
    }

    /// <summary>Sums every shard into <paramref name="totals"/> (length <see cref="ModelField.Count"/>), overwriting it.</summary>
    public void CopyTotals(Span<long> totals)
    {
        totals.Clear();
        foreach (var shard in _shards)
        {
            if (shard is null) continue;
            for (var i = 0; i < totals.Length; i++) totals[i] += Volatile.Read(ref shard[i]);
        }
    }

    private long[] CreateShard(int index)
    {
        var shard = new long[ModelField.Count];
        // Loops create only their own shard; shard 0 may be raced for by several threads: keep the first.
        return Interlocked.CompareExchange(ref _shards[index], shard, null) ?? shard;
    }

    private static void Observe(long[] s, int bins, int sum, long ticks, bool shared)
    {
        var micros = ticks <= 0 ? 0 : (long)(ticks * MicrosPerTick);
        Add(s, bins + LatencyBins.Of(micros), 1, shared);
        Add(s, sum, micros, shared);
    }

    private static void Add(long[] s, int field, long n, bool shared)
    {
        if (shared) Interlocked.Add(ref s[field], n);
        else Volatile.Write(ref s[field], s[field] + n);
    }
}
