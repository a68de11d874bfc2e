using System.Text;
using BenchmarkDotNet.Attributes;
using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Admin;

namespace FastLb.Benchmarks;

/// <summary>
/// One <c>GET /metrics</c> body rendered for a running FastLb with <see cref="Backends"/> backends (10 pools of one
/// service), every backend with traffic counted: the cost of a Prometheus scrape on the control plane.
/// </summary>
/// <remarks>
/// The target is under 50 ms for 1,000 backends, with allocation that grows with the output (the text itself and
/// the builder's growth), not with anything else: compare the Allocated column with <see cref="OutputChars"/>
/// printed at setup, between 100 and 1,000 backends.
/// </remarks>
[MemoryDiagnoser]
public class MetricsScrapeBenchmark
{
    private FastLbRuntime _runtime = null!;
    private MetricsExposition _metrics = null!;

    [Params(100, 1000)]
    public int Backends { get; set; }

    /// <summary>Characters in one scrape (printed at setup, for the allocation-per-output-byte ratio).</summary>
    public int OutputChars { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var yaml = new StringBuilder("""
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes: [ { service: bulk } ]
            services:
              bulk:
                active: pool0
                pools:

            """);
        for (var p = 0; p < 10; p++)
        {
            yaml.Append("      pool").Append(p).Append(":\n        backends: [");
            for (var b = 0; b < Backends / 10; b++) yaml.Append(b == 0 ? "" : ", ").Append("10.").Append(p).Append('.').Append(b / 250).Append('.').Append(1 + b % 250).Append(":80");
            yaml.Append("]\n");
        }
        var dir = Path.Combine(Path.GetTempPath(), "fastlb-scrape-bench");
        Directory.CreateDirectory(dir);
        var config = ConfigLoader.Parse(yaml.ToString(), "scrape-bench.yaml", dir);
        _runtime = new FastLbRuntime(() => config);
        if (!_runtime.StartAsync(config, handleSignals: false).GetAwaiter().GetResult()) throw new InvalidOperationException("FastLb did not start");
        foreach (var state in _runtime.Controller.Registry.All)
        {
            for (var status = 200; status <= 500; status += 100) state.Traffic.RecordRequest(status, 1_000, 500, 100, 200);
        }
        _metrics = new MetricsExposition(_runtime);
        using (var first = _metrics.RenderUtf8()) OutputChars = first.Utf8.Length;
        // Process CPU time per scrape as well: on a shared machine the wall-clock mean also counts time spent waiting
        // for a core, while CPU time is what the scrape itself costs (the event loops sleep in epoll meanwhile).
        const int rounds = 20;
        for (var i = 0; i < rounds; i++) _metrics.RenderUtf8().Dispose(); // warm up (tiered JIT)
        var cpu = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < rounds; i++) _metrics.RenderUtf8().Dispose();
        var perScrape = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds / rounds;
        Console.WriteLine($"// {Backends} backends: one scrape is {OutputChars:N0} bytes, {perScrape:F1} ms of CPU (mean of {rounds})");
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public int Scrape()
    {
        using var text = _metrics.RenderUtf8();
        return text.Utf8.Length;
    }
}
