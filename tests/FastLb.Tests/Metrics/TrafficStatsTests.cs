using System.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Tests.Traffic;
using Xunit;

namespace FastLb.Tests.Metrics;

public class TrafficStatsTests
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
    private readonly BackendStateRegistry _registry = new();
    private readonly TrafficStats _stats;

    public TrafficStatsTests()
    {
        _stats = new TrafficStats(_registry, _time);
        _stats.Tick(); // baseline
    }

    private void NextSecond()
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        _stats.Tick();
    }

    [Fact]
    public void Pool_TwoBackendsOverTenSeconds_MergesRatesErrorsAndQuantiles()
    {
        var a = _registry.GetOrAdd("web", "green", "10.0.0.1:80", null);
        var b = _registry.GetOrAdd("web", "green", "10.0.0.2:80", null);
        for (var s = 0; s < 10; s++)
        {
            for (var i = 0; i < 9; i++) a.Traffic.RecordRequest(200, 2 * Ms, 1 * Ms, 100, 1000);
            b.Traffic.RecordRequest(503, 400 * Ms, 390 * Ms, 100, 10);
            NextSecond();
        }

        var pool = _stats.Pool("web", "green", 10);

        Assert.Equal(100, pool.Requests);
        Assert.Equal(10, pool.RequestsPerSecond, 3);
        Assert.Equal(10, pool.Status(5));
        Assert.Equal(0.1, pool.ErrorRate, 3);
        Assert.InRange(pool.Duration(0.5), 0.0015, 0.0025);
        Assert.InRange(pool.Duration(0.99), 0.3, 0.4);
        Assert.Equal(1.0, _stats.Backend(b, 10).ErrorRate, 3);
    }

    [Fact]
    public void Window_OldSeconds_FallOutOfTheWindow()
    {
        var a = _registry.GetOrAdd("web", "blue", "10.0.0.1:80", null);
        a.Traffic.RecordRequest(200, Ms, Ms, 0, 0);
        NextSecond();
        for (var s = 0; s < 10; s++) NextSecond();

        Assert.Equal(0, _stats.Pool("web", "blue", 10).Requests);
        Assert.Equal(1, _stats.Pool("web", "blue", 30).Requests);
    }

    [Fact]
    public void ConnectFailures_CountAsErrorsWithoutRequests()
    {
        var a = _registry.GetOrAdd("pg", "main", "10.0.0.1:5432", null);
        a.RecordConnectFailure(timedOut: false);
        a.RecordConnectFailure(timedOut: true);
        a.Traffic.RecordRequest(0, Ms, -1, 10, 10);
        NextSecond();

        var s = _stats.Service("pg", 10);

        Assert.Equal(1, s.ConnectFailures);
        Assert.Equal(1, s.ConnectTimeouts);
        Assert.Equal(2.0 / 3, s.ErrorRate, 3);
    }

    [Fact]
    public void History_PerSecond_OldestFirst()
    {
        var a = _registry.GetOrAdd("web", "blue", "10.0.0.1:80", null);
        for (var s = 1; s <= 3; s++)
        {
            for (var i = 0; i < s; i++) a.Traffic.RecordRequest(s == 3 ? 500 : 200, Ms, Ms, 0, 0);
            NextSecond();
        }

        var history = _stats.History("web", "blue", null, 4);

        Assert.Equal([0, 1, 2, 3], history.Requests);
        Assert.Equal([0, 0, 0, 3], history.Errors);
    }

    [Fact]
    public void Counters_FromSeveralThreads_LoseNoCount()
    {
        var counters = new TrafficCounters();
        // One shard per thread, as event loops have, plus a thread that is not a loop.
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            CounterShard.Enter();
            for (var i = 0; i < 10_000; i++) counters.Add(TrafficField.Requests);
        })).ToList();
        threads.Add(new Thread(() =>
        {
            for (var i = 0; i < 10_000; i++) counters.Add(TrafficField.Requests); // not a loop: the shared shard
        }));
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(10)));

        Assert.Equal(50_000, counters.Total(TrafficField.Requests));
    }

    [Fact]
    public void Model_LastMinute_CountsItsSecondsThenForgetsThem()
    {
        var model = _registry.Models.Get("llm", "v2", "gpt-4o");
        model.Record(200, 150 * Ms, -1, 10, 40);
        model.Record(429, 2 * Ms, -1, -1, -1);
        NextSecond();
        model.Record(200, 250 * Ms, -1, 10, 40);
        NextSecond();

        var sum = new long[ModelField.Count];
        Assert.Equal(2, _stats.Model(model, 60, sum));
        Assert.Equal((3, 1, 20, 80), (sum[ModelField.Requests], sum[ModelField.Status429], sum[ModelField.PromptTokens], sum[ModelField.CompletionTokens]));
        Assert.Equal(1, _stats.Model(model, 1, sum));
        Assert.Equal(1, sum[ModelField.Requests]); // the last second only
        Assert.InRange(LatencyBins.Quantile(sum.AsSpan(ModelField.FirstByteBins, LatencyBins.Count), 0.5), 0.2, 0.3);

        for (var s = 0; s < 60; s++) NextSecond();
        _stats.Model(model, 60, sum);
        Assert.Equal(0, sum[ModelField.Requests]);
        long total = 0;
        foreach (var n in sum) total += n;
        Assert.Equal(0, total);
    }
}
