using BenchmarkDotNet.Attributes;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Routing;

/// <summary>The per-pick random draw: Random.Shared (what ThreadRandom uses) against a [ThreadStatic] SplitMix64.</summary>
[MemoryDiagnoser]
public class RandomSourceBenchmark
{
    private const int Ops = 1024;

    [ThreadStatic]
    private static ulong t_splitMix;

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public ulong ThreadRandomNext()
    {
        ulong x = 0;
        for (var i = 0; i < Ops; i++) x ^= ThreadRandom.Next();
        return x;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public ulong ThreadStaticSplitMix()
    {
        ulong x = 0;
        for (var i = 0; i < Ops; i++) x ^= SplitMix();
        return x;
    }

    private static ulong SplitMix()
    {
        var s = t_splitMix + 0x9E3779B97F4A7C15UL;
        t_splitMix = s;
        s = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9UL;
        s = (s ^ (s >> 27)) * 0x94D049BB133111EBUL;
        return s ^ (s >> 31);
    }
}
