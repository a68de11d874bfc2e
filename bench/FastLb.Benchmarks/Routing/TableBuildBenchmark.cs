using BenchmarkDotNet.Attributes;
using FastLb.Benchmarks.Mocks;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Routing;

/// <summary>
/// What a swap, split or reload costs on the write side: build both pools' snapshots and policies, the
/// service snapshot and the routing table for <see cref="Backends"/> backends (half blue 90, half green 10,
/// mixed weights 1-3), then publish through <see cref="Router.Publish"/>.
/// </summary>
[MemoryDiagnoser]
public class TableBuildBenchmark
{
    private readonly FastLbConfig _config = new() { SourcePath = "bench" };
    private readonly Router _router = new();
    private BackendState[] _blue = null!;
    private BackendState[] _green = null!;
    private ServiceConfig _serviceConfig = null!;
    private BalanceKind _kind;
    private long _generation;

    [Params(4, 64, 1024)]
    public int Backends { get; set; }

    [Params("round_robin", "least_request", "random", "hash")]
    public string Balance { get; set; } = "round_robin";

    [GlobalSetup]
    public void Setup()
    {
        _kind = RoutingMocks.ParseBalance(Balance);
        var perPool = Backends / 2;
        _blue = new BackendState[perPool];
        _green = new BackendState[perPool];
        for (var i = 0; i < perPool; i++)
        {
            _blue[i] = RoutingMocks.State(i, "blue");
            _green[i] = RoutingMocks.State((1 << 16) + i, "green");
        }
        _serviceConfig = RoutingMocks.ServiceConfig(_kind, ("blue", 90, Snapshots(_blue)), ("green", 10, Snapshots(_green)));
    }

    [Benchmark]
    public object BuildAndPublish()
    {
        var blue = Snapshots(_blue);
        var green = Snapshots(_green);
        var service = new ServiceSnapshot(_serviceConfig,
        [
            new PoolSnapshot("blue", 90, blue, SelectionPolicyFactory.Create(_kind, blue)),
            new PoolSnapshot("green", 10, green, SelectionPolicyFactory.Create(_kind, green)),
        ]);
        return _router.Publish(RoutingMocks.Table(++_generation, _config, service));
    }

    private static BackendSnapshot[] Snapshots(BackendState[] states)
    {
        var snapshots = new BackendSnapshot[states.Length];
        for (var i = 0; i < states.Length; i++) snapshots[i] = new BackendSnapshot(states[i], states[i].EndPoint!, RoutingMocks.MixedWeight(i), draining: false);
        return snapshots;
    }
}
