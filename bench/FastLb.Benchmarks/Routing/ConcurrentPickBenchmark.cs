using BenchmarkDotNet.Attributes;
using FastLb.Benchmarks.Mocks;
using FastLb.Core.Routing;

namespace FastLb.Benchmarks.Routing;

/// <summary>
/// Two threads pick from the same policy at once. Mean is the time per pick as each thread sees it
/// (both threads do <see cref="PerThread"/> picks per invocation), so aggregate throughput is 2 / Mean.
/// </summary>
[MemoryDiagnoser]
public class ConcurrentPickBenchmark
{
    private const int PerThread = 1 << 17;
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private ISelectionPolicy _policy = null!;
    private Thread _worker = null!;
    private readonly SemaphoreSlim _go = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private volatile bool _stop;
    private int _started;

    [Params(4, 64, 1024)]
    public int Backends { get; set; }

    [Params("round_robin", "least_request", "random", "hash")]
    public string Balance { get; set; } = "round_robin";

    [GlobalSetup]
    public void Setup()
    {
        _policy = SelectionPolicyFactory.Create(RoutingMocks.ParseBalance(Balance), RoutingMocks.Backends(Backends));
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "pick-worker" };
        _worker.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _go.Release();
        _worker.Join();
    }

    [Benchmark(OperationsPerInvoke = PerThread)]
    public object? TwoThreadPick()
    {
        Volatile.Write(ref _started, 0);
        _go.Release();
        // Start only once the worker runs, so the two loops overlap instead of taking turns.
        while (Volatile.Read(ref _started) == 0) Thread.SpinWait(16);
        var last = Run(_policy, 1);
        _done.Wait();
        return last;
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _go.Wait();
            if (_stop) return;
            Volatile.Write(ref _started, 1);
            Run(_policy, 2);
            _done.Release();
        }
    }

    private static object? Run(ISelectionPolicy policy, ulong seed)
    {
        object? last = null;
        var hash = seed * 7919;
        for (var i = 0; i < PerThread; i++)
        {
            last = policy.Pick(hash, 0);
            hash += Golden;
        }
        return last;
    }
}
