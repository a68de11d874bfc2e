using System.Text;
using System.Text.Json;

namespace FastLb.Host.Control;

/// <summary>Renders a control reply for people: status as an indented tree, other replies as one line.</summary>
internal static class ReplyFormatter
{
    public static string Format(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (!root.GetProperty("ok").GetBoolean())
        {
            var sb = new StringBuilder("error: ").Append(root.GetProperty("error").GetString());
            return sb.ToString();
        }
        if (root.TryGetProperty("end_second", out _) && root.TryGetProperty("services", out var histories)) return FormatHistory(root.GetProperty("seconds").GetInt32(), histories);
        if (root.TryGetProperty("services", out var services)) return FormatStatus(root, services);
        if (root.TryGetProperty("rollout", out var rollout))
        {
            var sb = new StringBuilder();
            if (rollout.ValueKind != JsonValueKind.Object) return $"service {root.GetProperty("service").GetString()}: no rollout";
            sb.Append("service ").Append(root.GetProperty("service").GetString()).AppendLine();
            AppendRollout(sb, rollout);
            return sb.ToString().TrimEnd();
        }
        if (root.TryGetProperty("events", out var events)) return FormatEvents(events);
        if (root.TryGetProperty("window_seconds", out var window) && root.TryGetProperty("pools", out var pools)) return FormatStats(root, window.GetInt32(), pools);
        var line = new StringBuilder("ok");
        if (root.TryGetProperty("generation", out var gen)) line.Append(": generation ").Append(gen.GetInt64());
        if (root.TryGetProperty("message", out var message)) line.Append(": ").Append(message.GetString());
        if (root.TryGetProperty("changed", out var changed) && !changed.GetBoolean()) line.Append(" (no change)");
        if (root.TryGetProperty("warnings", out var warnings))
        {
            foreach (var w in warnings.EnumerateArray()) line.Append("\nwarning: ").Append(w.GetString());
        }
        return line.ToString();
    }

    /// <summary>One line per pool and backend: a sparkline of requests per second (one mark per 5 s), totals and the peak.</summary>
    private static string FormatHistory(int seconds, JsonElement services)
    {
        var sb = new StringBuilder();
        sb.Append("requests per second over the last ").Append(seconds).Append("s, oldest first").AppendLine();
        foreach (var service in services.EnumerateObject())
        {
            foreach (var pool in service.Value.GetProperty("pools").EnumerateObject())
            {
                HistoryRow(sb, service.Name + "/" + pool.Name, pool.Value);
                foreach (var backend in pool.Value.GetProperty("backends").EnumerateObject()) HistoryRow(sb, "  " + backend.Name, backend.Value);
            }
        }
        return sb.ToString().TrimEnd();
    }

    private static void HistoryRow(StringBuilder sb, string name, JsonElement history)
    {
        const string marks = "▁▂▃▄▅▆▇█";
        const int perMark = 5;
        var requests = history.GetProperty("requests").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var errors = history.GetProperty("errors").EnumerateArray().Sum(e => e.GetInt64());
        var groups = requests.Chunk(perMark).Select(c => c.Sum()).ToArray();
        var peak = Math.Max(1, groups.DefaultIfEmpty(0).Max());
        sb.Append("  ").Append(name.PadRight(26)).Append(' ');
        foreach (var g in groups) sb.Append(g == 0 ? ' ' : marks[(int)Math.Min(marks.Length - 1, g * marks.Length / (peak + 1))]);
        sb.Append("  ").Append(requests.Sum()).Append(" requests, ").Append(errors).Append(" errors, peak ")
          .Append(requests.DefaultIfEmpty(0).Max()).Append("/s").AppendLine();
    }

    private static string FormatEvents(JsonElement events)
    {
        var sb = new StringBuilder();
        foreach (var e in events.EnumerateArray())
        {
            sb.Append(e.GetProperty("time").GetString()).Append("  ").Append(e.GetProperty("kind").GetString()!.PadRight(15))
              .Append(e.GetProperty("ok").GetBoolean() ? "" : "FAILED ").Append(e.GetProperty("message").GetString());
            if (e.TryGetProperty("generation", out var g)) sb.Append("  (generation ").Append(g.GetInt64()).Append(')');
            sb.AppendLine();
        }
        return sb.Length == 0 ? "no events" : sb.ToString().TrimEnd();
    }

    private static string FormatStats(JsonElement root, int window, JsonElement pools)
    {
        var sb = new StringBuilder();
        sb.Append("service ").Append(root.GetProperty("service").GetString()).Append("  last ").Append(window).Append('s').AppendLine();
        sb.Append("  ").Append("".PadRight(24)).Append("     req/s   errors     p50 ms     p90 ms     p99 ms  head p99 ms").AppendLine();
        foreach (var pool in pools.EnumerateObject())
        {
            StatsRow(sb, "pool " + pool.Name, pool.Value);
            foreach (var b in pool.Value.GetProperty("backends").EnumerateArray()) StatsRow(sb, "  " + b.GetProperty("address").GetString(), b);
        }
        return sb.ToString().TrimEnd();
    }

    private static void StatsRow(StringBuilder sb, string name, JsonElement s)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        sb.Append("  ").Append(name.PadRight(24))
          .Append(s.GetProperty("requests_per_second").GetDouble().ToString("0.0", inv).PadLeft(10))
          .Append((s.GetProperty("error_rate").GetDouble() * 100).ToString("0.0", inv).PadLeft(8)).Append('%')
          .Append(s.GetProperty("p50_ms").GetDouble().ToString("0.0", inv).PadLeft(11))
          .Append(s.GetProperty("p90_ms").GetDouble().ToString("0.0", inv).PadLeft(11))
          .Append(s.GetProperty("p99_ms").GetDouble().ToString("0.0", inv).PadLeft(11))
          .Append(s.GetProperty("head_p99_ms").GetDouble().ToString("0.0", inv).PadLeft(13))
          .AppendLine();
    }

    private static string FormatStatus(JsonElement root, JsonElement services)
    {
        var sb = new StringBuilder();
        sb.Append("generation ").Append(root.GetProperty("generation").GetInt64());
        if (root.TryGetProperty("live_connections", out var live)) sb.Append("  live connections ").Append(live.GetInt32());
        if (root.TryGetProperty("connections", out var limits))
        {
            if (limits.GetProperty("limit").ValueKind == JsonValueKind.Number) sb.Append(" of ").Append(limits.GetProperty("limit").GetInt32());
            sb.Append("  refused ").Append(limits.GetProperty("refused").GetInt64());
            if (limits.TryGetProperty("parked", out var parked)) sb.Append("  parked idle ").Append(parked.GetInt32());
        }
        sb.AppendLine();
        if (root.TryGetProperty("process", out var process) && process.TryGetProperty("generation", out var processGeneration))
        {
            sb.Append("process pid ").Append(process.GetProperty("pid").GetInt32())
              .Append("  started ").Append(process.GetProperty("started_at").GetString())
              .Append("  version ").Append(process.GetProperty("version").GetString())
              .Append("  process generation ").Append(processGeneration.GetInt32());
            if (process.GetProperty("upgraded_from_pid").ValueKind == JsonValueKind.Number)
            {
                sb.Append("  upgraded from pid ").Append(process.GetProperty("upgraded_from_pid").GetInt32());
            }
            if (process.TryGetProperty("upgrade_in_progress", out var upgrading) && upgrading.GetBoolean()) sb.Append("  (upgrade in progress)");
            sb.AppendLine();
        }
        if (root.TryGetProperty("io", out var io))
        {
            sb.Append("io ").Append(io.GetProperty("transport").GetString())
              .Append("  (").Append(io.GetProperty("reason").GetString()).Append(')').AppendLine();
        }
        if (root.TryGetProperty("listeners", out var listeners))
        {
            foreach (var l in listeners.EnumerateArray())
            {
                sb.Append("listener ").Append(l.GetProperty("name").GetString()).Append("  ")
                  .Append(l.GetProperty("bind").GetString()).Append("  ").Append(l.GetProperty("protocol").GetString());
                if (l.TryGetProperty("proxy_header_rejected", out var proxyRejected) && proxyRejected.GetInt64() > 0)
                {
                    sb.Append("  PROXY header rejected ").Append(proxyRejected.GetInt64());
                }
                if (l.TryGetProperty("client_hello_rejected", out var helloRejected) && helloRejected.GetInt64() > 0)
                {
                    sb.Append("  ClientHello rejected ").Append(helloRejected.GetInt64());
                }
                sb.AppendLine();
                if (l.TryGetProperty("tls", out var tls)) AppendListenerTls(sb, tls);
            }
        }
        foreach (var service in services.EnumerateObject())
        {
            var s = service.Value;
            sb.AppendLine();
            sb.Append("service ").Append(service.Name).Append("  ").Append(s.GetProperty("balance").GetString())
              .Append("  shares ").Append(Shares(s.GetProperty("shares")))
              .Append("  (").Append(s.GetProperty("source").GetString()).Append(')');
            if (s.GetProperty("previous").ValueKind == JsonValueKind.Object) sb.Append("  previous ").Append(Shares(s.GetProperty("previous")));
            sb.AppendLine();
            if (s.TryGetProperty("tls", out var tls) && tls.ValueKind == JsonValueKind.Object) AppendUpstreamTls(sb, tls);
            if (s.TryGetProperty("rollout", out var rollout) && rollout.ValueKind == JsonValueKind.Object) AppendRollout(sb, rollout);
            foreach (var pool in s.GetProperty("pools").EnumerateObject())
            {
                var p = pool.Value;
                sb.Append("  pool ").Append(pool.Name.PadRight(10)).Append(" share ").Append(p.GetProperty("share").GetInt32().ToString().PadLeft(3)).Append('%')
                  .Append("  live ").Append(p.GetProperty("live").GetInt32());
                AppendStats(sb, p);
                if (p.TryGetProperty("healthy", out var healthy) && p.TryGetProperty("total", out var total))
                {
                    sb.Append("  healthy ").Append(healthy.GetInt32()).Append('/').Append(total.GetInt32());
                }
                if (p.TryGetProperty("panic", out var panic) && panic.ValueKind == JsonValueKind.True) sb.Append("  PANIC (health ignored)");
                if (p.TryGetProperty("gate", out var gate) && gate.TryGetProperty("ok", out var gateOk) && !gateOk.GetBoolean())
                {
                    sb.Append("  gate: refuses");
                }
                AppendDrain(sb, p);
                sb.AppendLine();
                foreach (var b in p.GetProperty("backends").EnumerateArray())
                {
                    sb.Append("    ").Append(b.GetProperty("address").GetString()!.PadRight(22))
                      .Append(" weight ").Append(b.GetProperty("weight").GetInt32().ToString().PadLeft(3))
                      .Append("  live ").Append(b.GetProperty("live").GetInt32().ToString().PadLeft(4))
                      .Append("  ").Append(b.GetProperty("state").GetString());
                    AppendHealth(sb, b);
                    if (b.TryGetProperty("tls", out var backendTls) && backendTls.GetProperty("failures").GetInt64() > 0)
                    {
                        sb.Append("  tls failed ").Append(backendTls.GetProperty("failures").GetInt64());
                    }
                    AppendDrain(sb, b);
                    sb.AppendLine();
                }
            }
            if (s.TryGetProperty("models", out var models)) AppendModels(sb, models);
        }
        return sb.ToString().TrimEnd();
    }

    /// <summary>Under a model service: one line per model and pool since start (requests, 429s, tokens, first byte and stream percentiles).</summary>
    private static void AppendModels(StringBuilder sb, JsonElement models)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string Ms(JsonElement m, string name) => m.GetProperty(name).ValueKind == JsonValueKind.Number ? m.GetProperty(name).GetDouble().ToString("0.#", inv) : "-";
        foreach (var m in models.EnumerateArray())
        {
            var pool = m.GetProperty("pool").GetString();
            sb.Append("  model ").Append(m.GetProperty("model").GetString()).Append(pool == "_none" ? " refused by token limits" : " on " + pool)
              .Append("  requests ").Append(m.GetProperty("requests").GetInt64())
              .Append("  429 ").Append(m.GetProperty("status_429").GetInt64())
              .Append("  tokens ").Append(m.GetProperty("prompt_tokens").GetInt64()).Append(" in / ").Append(m.GetProperty("completion_tokens").GetInt64()).Append(" out")
              .Append("  first byte p50 ").Append(Ms(m, "first_byte_p50_ms")).Append(" p99 ").Append(Ms(m, "first_byte_p99_ms")).Append(" ms");
            if (m.GetProperty("streams").GetInt64() > 0)
            {
                sb.Append("  streams ").Append(m.GetProperty("streams").GetInt64())
                  .Append(" p50 ").Append(Ms(m, "stream_p50_ms")).Append(" p99 ").Append(Ms(m, "stream_p99_ms")).Append(" ms");
            }
            sb.AppendLine();
            if (m.TryGetProperty("recent", out var r) && r.GetProperty("requests").GetInt64() > 0)
            {
                string Rate(string name) => r.GetProperty(name).GetDouble().ToString("0.##", inv);
                sb.Append("    last ").Append(r.GetProperty("window_seconds").GetInt32()).Append(" s  ").Append(Rate("requests_per_second")).Append(" req/s")
                  .Append("  429 ").Append(r.GetProperty("status_429").GetInt64())
                  .Append("  tokens/s ").Append(Rate("prompt_tokens_per_second")).Append(" in / ").Append(Rate("completion_tokens_per_second")).Append(" out")
                  .Append("  first byte p50 ").Append(Ms(r, "first_byte_p50_ms")).Append(" p99 ").Append(Ms(r, "first_byte_p99_ms")).Append(" ms")
                  .AppendLine();
            }
        }
    }

    /// <summary>Under a TLS listener: each certificate with its names and expiry, then handshakes and failures by reason.</summary>
    private static void AppendListenerTls(StringBuilder sb, JsonElement tls)
    {
        foreach (var c in tls.GetProperty("certificates").EnumerateArray())
        {
            var left = c.GetProperty("expires_in_seconds").GetInt64();
            var names = string.Join(", ", c.GetProperty("names").EnumerateArray().Select(n => n.GetString()));
            sb.Append("  certificate ").Append(c.GetProperty("file").GetString()).Append("  ").Append(names.Length > 0 ? names : "(no names)")
              .Append("  expires ").Append(c.GetProperty("not_after").GetString())
              .Append(left < 0 ? "  EXPIRED" : left < 14 * 86400 ? $"  in {left / 86400.0:0.#} days: RENEW" : $"  in {left / 86400} days").AppendLine();
        }
        sb.Append("  tls handshakes ").Append(tls.GetProperty("handshakes").GetInt64());
        var failures = tls.GetProperty("handshake_failures").EnumerateObject().Where(f => f.Value.GetInt64() > 0).ToList();
        sb.Append("  failed ").Append(failures.Count == 0 ? "0" : string.Join(", ", failures.Select(f => $"{f.Name} {f.Value.GetInt64()}"))).AppendLine();
    }

    /// <summary>Under a service with tls: "  upstream tls  sni api.internal  verify on  min tls1.2  ca ...  handshakes 12  failed untrusted 1".</summary>
    private static void AppendUpstreamTls(StringBuilder sb, JsonElement tls)
    {
        sb.Append("  upstream tls  sni ").Append(tls.GetProperty("sni").GetString() ?? "(backend address)")
          .Append("  verify ").Append(tls.GetProperty("verify").GetBoolean() ? "on" : "OFF")
          .Append("  min ").Append(tls.GetProperty("min_version").GetString());
        if (tls.GetProperty("ca").GetString() is { } ca) sb.Append("  ca ").Append(ca);
        if (tls.GetProperty("client_cert").GetString() is { } client) sb.Append("  client_cert ").Append(client);
        sb.Append("  handshakes ").Append(tls.GetProperty("handshakes").GetInt64());
        var failures = tls.GetProperty("handshake_failures").EnumerateObject().Where(f => f.Value.GetInt64() > 0).ToList();
        sb.Append("  failed ").Append(failures.Count == 0 ? "0" : string.Join(", ", failures.Select(f => $"{f.Name} {f.Value.GetInt64()}"))).AppendLine();
    }

    /// <summary>"  rollout green from blue: running step 2 of 4 (25%)", the window so far, then one line per judged step.</summary>
    private static void AppendRollout(StringBuilder sb, JsonElement r)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        sb.Append("  rollout ").Append(r.GetProperty("pool").GetString()).Append(" from ").Append(r.GetProperty("baseline").GetString())
          .Append(": ").Append(r.GetProperty("state").GetString()).Append(" step ").Append(r.GetProperty("step").GetInt32())
          .Append(" of ").Append(r.GetProperty("steps_total").GetInt32()).Append(" (").Append(r.GetProperty("share").GetInt32()).Append("%)");
        if (r.GetProperty("waiting_gate").ValueKind == JsonValueKind.Number) sb.Append("  waiting for promote before ").Append(r.GetProperty("waiting_gate").GetInt32()).Append('%');
        sb.AppendLine();
        if (r.GetProperty("window").ValueKind == JsonValueKind.Object)
        {
            var w = r.GetProperty("window");
            var p = w.GetProperty("pool_stats");
            var b = w.GetProperty("baseline_stats");
            sb.Append("    window ").Append((w.GetProperty("elapsed_ms").GetInt64() / 1000.0).ToString("0.0", inv)).Append("s, judged in ")
              .Append((w.GetProperty("ends_in_ms").GetInt64() / 1000.0).ToString("0.0", inv)).Append("s: ")
              .Append(p.GetProperty("requests").GetInt64()).Append(" requests, error rate ").Append((p.GetProperty("error_rate").GetDouble() * 100).ToString("0.##", inv))
              .Append("%, p99 ").Append(p.GetProperty("p99_ms").GetDouble().ToString("0.#", inv)).Append(" ms; baseline ")
              .Append(b.GetProperty("requests").GetInt64()).Append(" requests, ").Append((b.GetProperty("error_rate").GetDouble() * 100).ToString("0.##", inv))
              .Append("%, p99 ").Append(b.GetProperty("p99_ms").GetDouble().ToString("0.#", inv)).Append(" ms").AppendLine();
        }
        foreach (var v in r.GetProperty("verdicts").EnumerateArray())
        {
            sb.Append("    step ").Append(v.GetProperty("share").GetInt32()).Append("%: ").Append(v.GetProperty("outcome").GetString())
              .Append(": ").Append(v.GetProperty("reason").GetString()).AppendLine();
        }
        if (r.GetProperty("outcome").ValueKind == JsonValueKind.String) sb.Append("    ").Append(r.GetProperty("outcome").GetString()).AppendLine();
    }

    private static void AppendHealth(StringBuilder sb, JsonElement b)
    {
        if (!b.TryGetProperty("health", out var health)) return;
        sb.Append("  ").Append(health.GetString());
        if (b.TryGetProperty("effective_weight", out var ew) && ew.GetDouble() != b.GetProperty("weight").GetInt32())
        {
            sb.Append(" (effective weight ").Append(ew.GetDouble().ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)).Append(')');
        }
        if (b.TryGetProperty("ejected_until", out var until) && until.ValueKind == JsonValueKind.String)
        {
            sb.Append(" until ").Append(until.GetString());
        }
        if (b.TryGetProperty("last_check", out var last) && last.ValueKind == JsonValueKind.Object)
        {
            sb.Append("  last check ").Append(last.GetProperty("result").GetString())
              .Append(" in ").Append(last.GetProperty("latency_ms").GetDouble().ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)).Append("ms");
        }
    }

    private static void AppendDrain(StringBuilder sb, JsonElement owner)
    {
        if (!owner.TryGetProperty("draining", out var d) || d.ValueKind != JsonValueKind.Object) return;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (d.GetProperty("drained_at").ValueKind == JsonValueKind.String)
        {
            var aborted = d.TryGetProperty("aborted", out var a) ? a.GetInt32() : 0;
            if (aborted > 0) sb.Append("  drained: ").Append(aborted).Append(" cut at deadline");
            else if (d.TryGetProperty("drained_after_ms", out var after)) sb.Append("  drained in ").Append((after.GetDouble() / 1000).ToString("0.0", inv)).Append('s');
            else sb.Append("  drained at ").Append(d.GetProperty("drained_at").GetString());
        }
        else
        {
            // A countdown, not a UTC deadline: what an operator watching a release wants to know.
            var left = d.TryGetProperty("deadline_in_ms", out var ms) ? Math.Max(0, ms.GetInt64()) : 0;
            sb.Append("  draining: ").Append(d.GetProperty("live").GetInt32()).Append(" live, deadline in ")
              .Append(Math.Ceiling(left / 1000.0).ToString("0", inv)).Append('s');
        }
    }

    /// <summary>The pool's last 10 s: requests/s, error rate and p99, when there was traffic.</summary>
    private static void AppendStats(StringBuilder sb, JsonElement pool)
    {
        if (!pool.TryGetProperty("stats", out var st) || st.ValueKind != JsonValueKind.Object) return;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var rps = st.GetProperty("requests_per_second").GetDouble();
        sb.Append("  ").Append(rps.ToString("0.#", inv)).Append(" req/s");
        if (rps <= 0) return;
        sb.Append("  errors ").Append((st.GetProperty("error_rate").GetDouble() * 100).ToString("0.#", inv)).Append('%');
        if (st.TryGetProperty("p99_ms", out var p99) && p99.ValueKind == JsonValueKind.Number) sb.Append("  p99 ").Append(p99.GetDouble().ToString("0.#", inv)).Append("ms");
    }

    private static string Shares(JsonElement shares)
    {
        var parts = new List<string>();
        foreach (var p in shares.EnumerateObject()) parts.Add($"{p.Name}={p.Value.GetInt32()}");
        return string.Join(" ", parts);
    }
}
