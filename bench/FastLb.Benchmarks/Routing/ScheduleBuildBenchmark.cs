using BenchmarkDotNet.Attributes;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Routing;

/// <summary>
/// SmoothWeightedSchedule.Build alone: equal weights (O(n)), 10 distinct weights (exact nginx path, O(W·D)),
/// and 100 distinct weights (heap path, O(W log n)).
/// </summary>
[MemoryDiagnoser]
public class ScheduleBuildBenchmark
{
    private int[] _equal = null!;
    private int[] _tenDistinct = null!;
    private int[] _hundredDistinct = null!;

    [Params(4, 64, 1024)]
    public int Backends { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _equal = new int[Backends];
        _tenDistinct = new int[Backends];
        _hundredDistinct = new int[Backends];
        for (var i = 0; i < Backends; i++)
        {
            _equal[i] = 1;
            _tenDistinct[i] = 1 + i % 10;
            _hundredDistinct[i] = 1 + i % 100;
        }
    }

    [Benchmark(Baseline = true)]
    public int[] EqualWeights() => SmoothWeightedSchedule.Build(_equal);

    [Benchmark]
    public int[] TenDistinctWeights() => SmoothWeightedSchedule.Build(_tenDistinct);

    [Benchmark]
    public int[] HundredDistinctWeights() => SmoothWeightedSchedule.Build(_hundredDistinct);
}
