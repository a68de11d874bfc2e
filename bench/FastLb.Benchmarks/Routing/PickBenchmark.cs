using BenchmarkDotNet.Attributes;
using FastLb.Benchmarks.Mocks;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Routing;

/// <summary>One pick on one thread: a pool's policy alone, and the two-level service pick (90/10 split).</summary>
[MemoryDiagnoser]
public class PickBenchmark
{
    private const int Ops = 1024;
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private ISelectionPolicy _policy = null!;
    private ServiceSnapshot _service = null!;

    [Params(4, 64, 1024)]
    public int Backends { get; set; }

    [Params("round_robin", "least_request", "random", "hash")]
    public string Balance { get; set; } = "round_robin";

    [GlobalSetup]
    public void Setup()
    {
        var kind = RoutingMocks.ParseBalance(Balance);
        _policy = SelectionPolicyFactory.Create(kind, RoutingMocks.Backends(Backends));
        _service = RoutingMocks.SplitService(kind, Backends);
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public object? PolicyPick()
    {
        var policy = _policy;
        object? last = null;
        var hash = 12345UL;
        for (var i = 0; i < Ops; i++)
        {
            last = policy.Pick(hash, 0);
            hash += Golden;
        }
        return last;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public object? ServicePick()
    {
        var service = _service;
        object? last = null;
        var hash = 12345UL;
        for (var i = 0; i < Ops; i++)
        {
            last = service.Pick(hash, 0);
            hash += Golden;
        }
        return last;
    }
}
