using System.Diagnostics;

namespace FastLb.Core.Metrics;

/// <summary>
/// Cumulative traffic counters of one backend or listener, one shard per event loop so the data plane counts
/// without locks, interlocked operations or allocations; <see cref="CopyTotals"/> merges the shards on read.
/// </summary>
/// <remarks>
/// A loop is the only writer of its shard, so it adds with a plain store; a reader on another thread may see a
/// count a moment late, never a torn one (aligned 64-bit stores). Threads that are not loops share shard 0 and add
/// with interlocked operations. A shard is allocated the first time its loop counts here, once.
/// </remarks>
internal sealed class TrafficCounters
{
    private static readonly double MicrosPerTick = 1e6 / Stopwatch.Frequency;

    private readonly long[]?[] _shards = new long[]?[CounterShard.Count];

    /// <summary>Counts one request (or TCP connection) that ended.</summary>
    /// <param name="status">The status sent to the client, 0 when none was (TCP, or the client went away first).</param>
    /// <param name="durationTicks">Its duration in <see cref="Stopwatch"/> ticks.</param>
    /// <param name="headTicks">Time to the response head in Stopwatch ticks, or a negative value when none came.</param>
    public void RecordRequest(int status, long durationTicks, long headTicks, long bytesIn, long bytesOut)
    {
        var index = CounterShard.Current;
        var s = Shard(index);
        var shared = index == 0;
        Add(s, TrafficField.Requests, 1, shared);
        if (status is >= 100 and < 600) Add(s, TrafficField.Status1xx + status / 100 - 1, 1, shared);
        if (bytesIn != 0) Add(s, TrafficField.BytesIn, bytesIn, shared);
        if (bytesOut != 0) Add(s, TrafficField.BytesOut, bytesOut, shared);
        Observe(s, TrafficField.DurationBins, TrafficField.DurationSumMicros, durationTicks, shared);
        if (headTicks >= 0) Observe(s, TrafficField.HeadBins, TrafficField.HeadSumMicros, headTicks, shared);
    }

    /// <summary>Counts an upstream connection opened after <paramref name="connectTicks"/> Stopwatch ticks.</summary>
    public void RecordConnect(long connectTicks)
    {
        var index = CounterShard.Current;
        var s = Shard(index);
        Add(s, TrafficField.ConnectionsOpened, 1, index == 0);
        Observe(s, TrafficField.ConnectBins, TrafficField.ConnectSumMicros, connectTicks, index == 0);
    }

    /// <summary>Adds <paramref name="n"/> to one scalar slot (<see cref="TrafficField"/>).</summary>
    public void Add(int field, long n = 1)
    {
        var index = CounterShard.Current;
        Add(Shard(index), field, n, index == 0);
    }

    /// <summary>Sums every shard into <paramref name="totals"/> (length <see cref="TrafficField.Count"/>), overwriting it.</summary>
    public void CopyTotals(Span<long> totals)
    {
        totals.Clear();
        foreach (var shard in _shards)
        {
            if (shard is null) continue;
            for (var i = 0; i < totals.Length; i++) totals[i] += Volatile.Read(ref shard[i]);
        }
    }

    /// <summary>One merged slot (a scrape of a single value; <see cref="CopyTotals"/> for many).</summary>
    public long Total(int field)
    {
        long n = 0;
        foreach (var shard in _shards)
        {
            if (shard is not null) n += Volatile.Read(ref shard[field]);
        }
        return n;
    }

    private long[] Shard(int index) => _shards[index] ?? CreateShard(index);

    private long[] CreateShard(int index)
    {
        var shard = new long[TrafficField.Count];
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
