using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Host.Control;

namespace FastLb.Host.Admin;

/// <summary>
/// The optional read-only admin endpoint (<c>admin.listen</c>): <c>GET /status</c> (the control socket's status
/// JSON), <c>GET /metrics</c> (Prometheus text) and <c>GET /</c> (a live dashboard that polls /status).
/// One request per connection, bounded head, GET and HEAD only; it changes nothing.
/// </summary>
internal sealed class AdminHttpServer(IPEndPoint bind, FastLbRuntime runtime, ControlCommandHandler handler) : IDisposable
{
    private const int MaxHeadBytes = 8 * 1024;
    private const int MaxClients = 16;
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;

    public IPEndPoint EndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? bind);

    public void Start()
    {
        var socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(bind);
            socket.Listen(64);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listener = socket;
        _ = new BoundedAcceptLoop("admin http", MaxClients, ServeAsync, RefuseAsync).RunAsync(socket, _stop.Token);
    }

    private static Task RefuseAsync(Socket client) =>
        client.SendAsync("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None);

    private async Task ServeAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ClientTimeout);
        var head = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
        var (status, type, body) = head is null ? (400, "text/plain", "bad request\n") : Route(head);
        var isHead = head?.StartsWith("HEAD ", StringComparison.Ordinal) == true;
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {type}\r\nContent-Length: {bodyBytes.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
        await client.SendAsync(response, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        if (!isHead) await client.SendAsync(bodyBytes, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Send);
    }

    private static async Task<string?> ReadHeadAsync(Socket client, CancellationToken ct)
    {
        var buffer = new byte[MaxHeadBytes];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return null;
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Encoding.ASCII.GetString(buffer, 0, end);
        }
        return null; // head too large
    }

    private (int Status, string Type, string Body) Route(string head)
    {
        var line = head.AsSpan(0, head.IndexOf('\r') is var cr and >= 0 ? cr : head.Length);
        var parts = line.ToString().Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal)) return (400, "text/plain", "bad request\n");
        if (parts[0] is not ("GET" or "HEAD")) return (405, "text/plain", "read-only: GET /, /status, /metrics\n");
        var path = parts[1];
        var query = path.IndexOf('?');
        if (query >= 0) path = path[..query];
        return path switch
        {
            "/" => (200, "text/html; charset=utf-8", AdminDashboard.Html),
            "/status" => (200, "application/json", handler.Status() + "\n"),
            "/metrics" => (200, "text/plain; version=0.0.4", Metrics()),
            _ => (404, "text/plain", "not found: try /, /status, /metrics\n"),
        };
    }

    /// <summary>Prometheus text exposition of the routing table and per-backend counters.</summary>
    private string Metrics()
    {
        var table = runtime.Router.Current;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("# HELP fastlb_generation Routing table generation in force.\n# TYPE fastlb_generation gauge\n");
        sb.Append(inv, $"fastlb_generation {table.Generation}\n");
        sb.Append("# HELP fastlb_pool_share Share of new traffic per pool (relative weight).\n# TYPE fastlb_pool_share gauge\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools) sb.Append(inv, $"fastlb_pool_share{{service=\"{name}\",pool=\"{pool.Name}\"}} {pool.Share}\n");
        }
        sb.Append("# HELP fastlb_backend_live Connections (TCP) or requests (HTTP) in flight.\n# TYPE fastlb_backend_live gauge\n");
        AppendBackends(sb, table, "fastlb_backend_live", static b => b.State.Live);
        sb.Append("# HELP fastlb_backend_total Connections (TCP) or requests (HTTP) started.\n# TYPE fastlb_backend_total counter\n");
        AppendBackends(sb, table, "fastlb_backend_total", static b => b.State.TotalConnections);
        sb.Append("# HELP fastlb_backend_failures Connect failures.\n# TYPE fastlb_backend_failures counter\n");
        AppendBackends(sb, table, "fastlb_backend_failures", static b => b.State.Failures);
        sb.Append("# HELP fastlb_backend_weight Effective weight in the current generation.\n# TYPE fastlb_backend_weight gauge\n");
        AppendBackends(sb, table, "fastlb_backend_weight", static b => b.Weight);
        AppendHealth(sb, table);
        sb.Append("# HELP fastlb_client_connections Open client connections.\n# TYPE fastlb_client_connections gauge\n");
        sb.Append(inv, $"fastlb_client_connections {runtime.Proxy.LiveConnections}\n");
        sb.Append("# HELP fastlb_gc_collections_total Garbage collections by generation.\n# TYPE fastlb_gc_collections_total counter\n");
        for (var g = 0; g <= 2; g++) sb.Append(inv, $"fastlb_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n");
        sb.Append("# HELP fastlb_allocated_bytes_total Managed bytes allocated.\n# TYPE fastlb_allocated_bytes_total counter\n");
        sb.Append(inv, $"fastlb_allocated_bytes_total {GC.GetTotalAllocatedBytes(precise: false)}\n");
        return sb.ToString();
    }

    /// <summary>Health per backend and pool: state (one series per state, 1 for the current one), checks, check latency, ejections, effective weight.</summary>
    private static void AppendHealth(StringBuilder sb, RoutingTable table)
    {
        var inv = CultureInfo.InvariantCulture;
        var now = DateTimeOffset.UtcNow;
        sb.Append("# HELP fastlb_backend_health_state Health of the backend: 1 for its current state (unknown, healthy, unhealthy, ejected), else 0.\n# TYPE fastlb_backend_health_state gauge\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var b in pool.Backends)
                {
                    var current = b.State.Health.StateAt(now);
                    foreach (var state in HealthStates)
                    {
                        sb.Append(inv, $"fastlb_backend_health_state{{service=\"{name}\",pool=\"{pool.Name}\",backend=\"{b.Address}\",state=\"{TrafficController.Label(state)}\"}} {(state == current ? 1 : 0)}\n");
                    }
                }
            }
        }
        sb.Append("# HELP fastlb_backend_health_checks_total Active health checks run, by result.\n# TYPE fastlb_backend_health_checks_total counter\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var b in pool.Backends)
                {
                    var (checks, failed, _) = b.State.Health.CheckCounts;
                    var labels = $"service=\"{name}\",pool=\"{pool.Name}\",backend=\"{b.Address}\"";
                    sb.Append(inv, $"fastlb_backend_health_checks_total{{{labels},result=\"passed\"}} {checks - failed}\n");
                    sb.Append(inv, $"fastlb_backend_health_checks_total{{{labels},result=\"failed\"}} {failed}\n");
                }
            }
        }
        sb.Append("# HELP fastlb_backend_health_check_seconds Latency of active health checks.\n# TYPE fastlb_backend_health_check_seconds summary\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var b in pool.Backends)
                {
                    var (checks, _, latency) = b.State.Health.CheckCounts;
                    var labels = $"service=\"{name}\",pool=\"{pool.Name}\",backend=\"{b.Address}\"";
                    sb.Append(inv, $"fastlb_backend_health_check_seconds_sum{{{labels}}} {latency.TotalSeconds:0.######}\n");
                    sb.Append(inv, $"fastlb_backend_health_check_seconds_count{{{labels}}} {checks}\n");
                }
            }
        }
        sb.Append("# HELP fastlb_backend_ejections_total Outlier ejections.\n# TYPE fastlb_backend_ejections_total counter\n");
        AppendBackends(sb, table, "fastlb_backend_ejections_total", static b => b.State.Health.Ejections);
        sb.Append("# HELP fastlb_backend_effective_weight Weight after health and slow start (0 = takes no traffic).\n# TYPE fastlb_backend_effective_weight gauge\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var b in pool.Backends)
                {
                    sb.Append(inv, $"fastlb_backend_effective_weight{{service=\"{name}\",pool=\"{pool.Name}\",backend=\"{b.Address}\"}} {b.EffectiveWeight}\n");
                }
            }
        }
        sb.Append("# HELP fastlb_pool_healthy_backends Backends with weight above 0 that may take traffic by their health.\n# TYPE fastlb_pool_healthy_backends gauge\n");
        sb.Append("# HELP fastlb_pool_panic 1 while the pool ignores health (below panic_threshold).\n# TYPE fastlb_pool_panic gauge\n");
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                sb.Append(inv, $"fastlb_pool_healthy_backends{{service=\"{name}\",pool=\"{pool.Name}\"}} {pool.HealthyCount}\n");
                sb.Append(inv, $"fastlb_pool_panic{{service=\"{name}\",pool=\"{pool.Name}\"}} {(pool.Panic ? 1 : 0)}\n");
            }
        }
    }

    private static readonly BackendHealthState[] HealthStates = [BackendHealthState.Unknown, BackendHealthState.Healthy, BackendHealthState.Unhealthy, BackendHealthState.Ejected];

    private static void AppendBackends(StringBuilder sb, RoutingTable table, string metric, Func<BackendSnapshot, long> value)
    {
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                foreach (var b in pool.Backends)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{metric}{{service=\"{name}\",pool=\"{pool.Name}\",backend=\"{b.Address}\"}} {value(b)}\n");
                }
            }
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };

    public void Dispose()
    {
        _stop.Cancel();
        _listener?.Dispose();
    }
}
