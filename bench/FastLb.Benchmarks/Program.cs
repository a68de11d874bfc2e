using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "health-cost") return FastLb.Benchmarks.HealthCheckCost.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(FastLb.Benchmarks.HttpRequestBenchmark).Assembly).Run(args);
return 0;
