using System.Text;

namespace FastLb.Core.Config;

/// <summary>A one-screen, human-readable description of a loaded config, printed by `fastlb check`.</summary>
internal static class ConfigSummary
{
    public static string Describe(FastLbConfig config)
    {
        var sb = new StringBuilder();
        var d = config.Defaults;
        sb.AppendLine($"config {config.SourcePath}: OK");
        sb.AppendLine($"workers: {config.Workers}{(config.PinWorkers ? ", pinned to CPUs" : "")}");
        sb.AppendLine($"admin: control socket {config.Admin.ControlSocket}, http {config.Admin.Listen?.ToString() ?? "off"}");
        sb.AppendLine($"defaults: connect {F(d.ConnectTimeout)}, idle {F(d.IdleTimeout)}, drain {F(d.DrainTimeout)}, " +
                      $"request head {F(d.RequestHeadTimeout)}, response head {F(d.ResponseHeadTimeout)}, " +
                      $"keep-alive {F(d.KeepAliveTimeout)}, upstream idle {F(d.UpstreamIdleTimeout)}, " +
                      $"tcp relay {(d.TcpRelay == TcpRelayMode.Splice ? "splice" : "pipes")}");

        sb.AppendLine();
        sb.AppendLine($"listeners ({config.Listeners.Count}):");
        foreach (var l in config.Listeners)
        {
            if (l.Protocol == ListenerProtocol.Tcp)
            {
                sb.AppendLine(l.SniRoutes is { } sni
                    ? $"  {l.Name}  {l.Bind}  tcp (TLS passthrough) -> {string.Join(", ", sni.Select(r => $"{r.Sni ?? "default"}: {r.Service}"))}"
                    : $"  {l.Name}  {l.Bind}  tcp -> {l.Service}");
                continue;
            }
            sb.AppendLine($"  {l.Name}  {l.Bind}  http, {l.Routes.Count} route(s):");
            if (l.Tls is { } tls)
            {
                foreach (var c in tls.Certificates)
                {
                    sb.AppendLine($"    tls {c.Path}: {(c.Names.Count > 0 ? string.Join(", ", c.Names) : "(no names)")}, expires {c.NotAfter:yyyy-MM-dd HH:mm} UTC");
                }
            }
            for (var i = 0; i < l.Routes.Count; i++)
            {
                var r = l.Routes[i];
                var target = r.Pool is null ? r.Service : $"{r.Service} (pool {r.Pool} only)";
                sb.AppendLine($"    {i + 1}. {Match(r.Match)} -> {target}");
            }
        }

        sb.AppendLine();
        sb.AppendLine($"services ({config.Services.Count}):");
        foreach (var s in config.Services)
        {
            var balance = s.Balance switch
            {
                BalanceKind.LeastRequest => "least_request",
                BalanceKind.Random => "random",
                BalanceKind.Hash => $"hash on {s.HashOn}",
                _ => "round_robin",
            };
            var shares = string.Join(", ", s.Pools.Select(p => $"{p.Name} {Percent(s, p.Name)}"));
            sb.AppendLine($"  {s.Name}  {balance}  traffic: {shares}{(s.RewriteHost ? "  rewrite_host" : "")}");
            sb.AppendLine($"    timeouts: connect {F(s.ConnectTimeout)}, idle {F(s.IdleTimeout)}, drain {F(s.DrainTimeout)}, " +
                          $"response head {F(s.ResponseHeadTimeout)}, upstream idle {F(s.UpstreamIdleTimeout)}");
            foreach (var p in s.Pools)
            {
                var backends = string.Join(", ", p.Backends.Select(b => b.Weight == 1 ? b.Address.ToString() : $"{b.Address} (weight {b.Weight})"));
                sb.AppendLine($"    pool {p.Name} (share {s.Shares[p.Name]}): {backends}");
            }
        }
        return sb.ToString();
    }

    private static string Match(RouteMatchConfig m)
    {
        if (m.IsCatchAll) return "any request";
        var parts = new List<string>();
        if (m.Method is not null) parts.Add($"method {m.Method}");
        if (m.Host is not null) parts.Add($"host {m.Host}");
        if (m.Path is not null) parts.Add($"path {m.Path}");
        if (m.PathPrefix is not null) parts.Add($"path prefix {m.PathPrefix}");
        if (m.Header is not null) parts.Add(m.Header.Value is null ? $"header {m.Header.Name} present" : $"header {m.Header.Name}={m.Header.Value}");
        if (m.Cookie is not null) parts.Add(m.Cookie.Value is null ? $"cookie {m.Cookie.Name} present" : $"cookie {m.Cookie.Name}={m.Cookie.Value}");
        return string.Join(", ", parts);
    }

    private static string Percent(ServiceConfig s, string pool)
    {
        var total = s.Shares.Values.Sum();
        return total == 0 ? "0%" : $"{Math.Round(100.0 * s.Shares[pool] / total, 1)}%";
    }

    private static string F(TimeSpan t) => ConfigDuration.Format(t);
}
