using System.Collections.Frozen;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Proxy.Health;

namespace FastLb.Benchmarks;

/// <summary>
/// `dotnet run -c Release --project bench/FastLb.Benchmarks -- health-cost [backends] [seconds] [tcp|http]`: checks N
/// backends (distinct 127.x.y.z addresses of one loopback listener) every second and reports the prober thread's
/// CPU time (user + system, from /proc) as a share of one core, the checks per second and the bytes it allocated.
/// </summary>
internal static class HealthCheckCost
{
    public static int Run(string[] args)
    {
        var backends = args.Length > 1 ? int.Parse(args[1]) : 1000;
        var seconds = args.Length > 2 ? int.Parse(args[2]) : 20;
        var kind = args.Length > 3 && args[3] == "http" ? HealthCheckKind.Http : HealthCheckKind.Tcp;

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Any, 0));
        listener.Listen(4096);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var serve = new Thread(() => Serve(listener, kind)) { IsBackground = true, Name = "cost-backend" };
        serve.Start();

        var check = new HealthCheckConfig { Kind = kind, Path = "/healthz", Interval = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromMilliseconds(500) };
        var registry = new BackendStateRegistry();
        var list = new List<BackendConfig>();
        var snapshots = new BackendSnapshot[backends];
        for (var i = 0; i < backends; i++)
        {
            var ep = new IPEndPoint(IPAddress.Parse($"127.{1 + i / 62500}.{i / 250 % 250}.{1 + i % 250}"), port);
            list.Add(new BackendConfig(new EndPointConfig(ep.Address.ToString(), port), 1));
            snapshots[i] = new BackendSnapshot(registry.GetOrAdd("web", "main", ep.ToString(), ep), ep, 1, false);
        }
        var pool = new PoolConfig { Name = "main", Backends = list };
        var service = new ServiceConfig { Name = "web", Pools = [pool], Shares = new Dictionary<string, int> { ["main"] = 100 }, HealthCheck = check };
        var table = new RoutingTable(1, new FastLbConfig { SourcePath = "<cost>", Services = [service] },
            new Dictionary<string, ServiceSnapshot> { ["web"] = new(service, [new PoolSnapshot("main", 100, snapshots, SelectionPolicyFactory.Create(BalanceKind.RoundRobin, snapshots))]) }
                .ToFrozenDictionary());
        var router = new Router();
        router.Publish(table);

        using var prober = new HealthProber(router);
        prober.Start();
        Thread.Sleep(3000); // warm up: every backend got its first check (random offsets within 1 s), JIT done
        var tid = FindThread("fastlb-health");
        var cpu0 = CpuTicks(tid);
        var checks0 = prober.Checks;
        var alloc0 = prober.ThreadAllocatedBytes;
        var clock = Stopwatch.StartNew();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = (CpuTicks(tid) - cpu0) / (double)ClockTicksPerSecond;
        var checks = prober.Checks - checks0;
        var alloc = prober.ThreadAllocatedBytes - alloc0;
        var healthy = snapshots.Count(s => s.State.Health.Status == HealthStatus.Healthy);
        Console.WriteLine($"backends={backends} kind={kind.ToString().ToLowerInvariant()} seconds={elapsed:0.0} checks={checks} checks_per_s={checks / elapsed:0}");
        Console.WriteLine($"prober_cpu_s={cpu:0.000} share_of_one_core={100 * cpu / elapsed:0.00}% cpu_per_check_us={1e6 * cpu / Math.Max(1, checks):0.0}");
        Console.WriteLine($"prober_allocated_bytes={alloc} per_check={(double)alloc / Math.Max(1, checks):0.00} healthy={healthy}/{backends}");
        return 0;
    }

    private static void Serve(Socket listener, HealthCheckKind kind)
    {
        var response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
        var buffer = new byte[1024];
        while (true)
        {
            Socket s;
            try
            {
                s = listener.Accept();
            }
            catch (SocketException)
            {
                return;
            }
            try
            {
                if (kind == HealthCheckKind.Http)
                {
                    s.Receive(buffer);
                    s.Send(response);
                }
            }
            catch (SocketException)
            {
            }
            s.Dispose();
        }
    }

    private const int ClockTicksPerSecond = 100; // USER_HZ on Linux

    private static int FindThread(string name)
    {
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == name) return int.Parse(Path.GetFileName(dir));
        }
        throw new InvalidOperationException($"no thread named {name}");
    }

    /// <summary>utime + stime of one thread, in clock ticks.</summary>
    private static long CpuTicks(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]); // fields 14 and 15 of stat(5), after pid and comm
    }
}
