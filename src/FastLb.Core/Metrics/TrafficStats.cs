using FastLb.Core.Routing;

namespace FastLb.Core.Metrics;

/// <summary>
/// Rolling per-backend, per-pool and per-service traffic statistics (1 s buckets over the last 60 s, plus 5 minutes
/// of requests and errors per second), read by status, <c>ctl stats</c>, the dashboard and rollout verdicts.
/// </summary>
/// <remarks>
/// The data plane only adds to each backend's per-loop <see cref="TrafficCounters"/>. Once a second <see cref="Tick"/>
/// merges them and stores the delta in the backend's <see cref="TrafficWindow"/>; pools and services sum their
/// backends' windows when read. Everything here is control plane and serialized by one lock.
/// </remarks>
internal sealed class TrafficStats(BackendStateRegistry registry, TimeProvider time)
{
    /// <summary>The window <c>ctl stats</c> and status use when none is asked for.</summary>
    public const int DefaultWindowSeconds = 10;

    private readonly Lock _lock = new();
    private readonly long[] _totals = new long[TrafficField.Count];
    private readonly long[] _modelTotals = new long[ModelField.Count];
    private long _firstSecond = -1;
    private long _lastSecond = -1;

    public BackendStateRegistry Registry { get; } = registry;

    /// <summary>Closes the current second: call once a second (a late call folds the gap into one bucket).</summary>
    public void Tick()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (second <= _lastSecond) return;
            var all = Registry.All;
            for (var i = 0; i < all.Count; i++)
            {
                var state = all[i];
                state.Traffic.CopyTotals(_totals);
                state.Window.Advance(_totals, second);
            }
            foreach (var model in Registry.Models.Series)
            {
                model.CopyTotals(_modelTotals);
                model.Window.Advance(_modelTotals, second);
            }
            if (_firstSecond < 0) _firstSecond = second;
            _lastSecond = second;
        }
    }

    /// <summary>One backend over the last <paramref name="seconds"/> seconds.</summary>
    public TrafficSummary Backend(BackendState state, int seconds = DefaultWindowSeconds) => Summarize([state], seconds);

    /// <summary>One pool (every backend it has had) over the last <paramref name="seconds"/> seconds.</summary>
    public TrafficSummary Pool(string service, string pool, int seconds = DefaultWindowSeconds) => Summarize(StatesOf(service, pool), seconds);

    /// <summary>One service over the last <paramref name="seconds"/> seconds.</summary>
    public TrafficSummary Service(string service, int seconds = DefaultWindowSeconds) => Summarize(StatesOf(service, null), seconds);

    /// <summary>The last second <see cref="Tick"/> closed (Unix seconds), or -1 before the first tick: the end of every history.</summary>
    public long LastClosedSecond
    {
        get
        {
            lock (_lock) return _lastSecond;
        }
    }

    /// <summary>Requests and errors per second of a pool (or one backend) over the last <paramref name="seconds"/> (at most 300).</summary>
    public TrafficHistory History(string service, string pool, string? backend, int seconds) =>
        History(StatesOf(service, pool), backend, seconds, LastClosedSecond);

    /// <summary>A pool's (every backend it has had) history over the <paramref name="seconds"/> ending at <paramref name="end"/>.</summary>
    public TrafficHistory History(string service, string pool, int seconds, long end) => History(StatesOf(service, pool), null, seconds, end);

    /// <summary>One backend's history over the <paramref name="seconds"/> ending at <paramref name="end"/>.</summary>
    public TrafficHistory History(BackendState state, int seconds, long end) => History([state], null, seconds, end);

    /// <summary>
    /// Requests and errors per second of <paramref name="states"/> (only <paramref name="backend"/> when given) over the
    /// <paramref name="seconds"/> (at most 300) ending at <paramref name="end"/>, oldest first: several histories read
    /// with the same end line up second by second even when a tick runs between them.
    /// </summary>
    private TrafficHistory History(IEnumerable<BackendState> states, string? backend, int seconds, long end)
    {
        seconds = Math.Clamp(seconds, 0, TrafficWindow.HistorySeconds);
        var requests = new long[seconds];
        var errors = new long[seconds];
        if (seconds == 0) return new TrafficHistory(requests, errors);
        lock (_lock)
        {
            foreach (var state in states)
            {
                if (backend is null || state.Address == backend) state.Window.AddHistory(requests, errors, end);
            }
        }
        return new TrafficHistory(requests, errors);
    }

    /// <summary>The cumulative counters of a pool's backends now (no window): a rollout subtracts two of these.</summary>
    public TrafficTotals Totals(string service, string pool)
    {
        var sum = new long[TrafficField.Count];
        var one = new long[TrafficField.Count];
        foreach (var state in StatesOf(service, pool))
        {
            state.Traffic.CopyTotals(one);
            for (var i = 0; i < sum.Length; i++) sum[i] += one[i];
        }
        return TrafficTotals.From(sum);
    }

    /// <summary>
    /// One model series over the last <paramref name="seconds"/> (at most 60) into <paramref name="sum"/> (length
    /// <see cref="ModelField.Count"/>, overwritten); returns the seconds covered (fewer right after start), 0 before the first tick.
    /// </summary>
    public int Model(ModelCounters model, int seconds, Span<long> sum)
    {
        seconds = Math.Clamp(seconds, 1, SecondBuckets.Seconds);
        sum.Clear();
        lock (_lock)
        {
            if (_lastSecond < 0) return 0;
            model.Window.AddTo(sum, _lastSecond, seconds);
            return Covered(seconds);
        }
    }

    public TrafficSummary Summarize(IEnumerable<BackendState> states, int seconds)
    {
        seconds = Math.Clamp(seconds, 1, TrafficWindow.Seconds);
        var sum = new long[TrafficWindow.BucketLength];
        lock (_lock)
        {
            if (_lastSecond < 0) return new TrafficSummary(sum, seconds);
            foreach (var state in states) state.Window.AddTo(sum, _lastSecond, seconds);
            return new TrafficSummary(sum, Covered(seconds));
        }
    }

    /// <summary>
    /// The seconds a window of <paramref name="seconds"/> really covers: fewer just after start, since the first tick
    /// only takes the baseline. Under <see cref="_lock"/>, after the first tick.
    /// </summary>
    private int Covered(int seconds) => (int)Math.Min(seconds, Math.Max(1, _lastSecond - _firstSecond));

    private List<BackendState> StatesOf(string service, string? pool)
    {
        var states = new List<BackendState>();
        foreach (var state in Registry.All)
        {
            if (state.Service == service && (pool is null || state.Pool == pool)) states.Add(state);
        }
        return states;
    }
}
