using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Core.Tls;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    /// <summary>Writes the "generation" and "services" members of the status reply (docs/control.md) into an open JSON object.</summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        lock (_writeLock)
        {
            RefreshHealth(); // status, the gate and the table agree on the latest health (the lock is reentrant)
            var table = Router.Current;
            w.WriteNumber("generation", table.Generation);
            w.WriteStartObject("services");
            foreach (var service in table.Config.Services)
            {
                var snapshot = table.FindService(service.Name);
                if (snapshot is null) continue;
                var t = _traffic[service.Name];
                w.WriteStartObject(service.Name);
                WriteShares(w, "shares", t.Current);
                w.WriteString("source", t.Source == AssignmentSource.File ? "file" : "runtime");
                if (t.Previous is { } previous) WriteShares(w, "previous", previous);
                else w.WriteNull("previous");
                w.WriteString("balance", BalanceName(service.Balance));
                w.WriteNumber("drain_timeout_ms", (long)service.DrainTimeout.TotalMilliseconds);
                WriteUpstreamTls(w, service.Tls, snapshot);
                WriteRollout(w, service.Name);
                var percent = Shares.Percent(t.Current);
                w.WriteStartObject("pools");
                foreach (var pool in snapshot.Pools)
                {
                    w.WriteStartObject(pool.Name);
                    w.WriteNumber("share", percent.GetValueOrDefault(pool.Name));
                    w.WriteNumber("live", pool.Live);
                    TrafficSummaryJson.WriteBrief(w, "stats", Stats.Pool(service.Name, pool.Name));
                    w.WriteNumber("healthy", pool.HealthyCount);
                    w.WriteNumber("total", pool.WeightedCount);
                    w.WriteBoolean("panic", pool.Panic);
                    w.WriteBoolean("pinned", pool.Pinned);
                    var check = service.FindPool(pool.Name) is { } pc ? service.CheckFor(pc) : null;
                    if (check is not null) w.WriteString("health_check", check.Describe());
                    else w.WriteNull("health_check");
                    var verdict = GateVerdict(service.Name, pool.Name);
                    w.WriteStartObject("gate");
                    w.WriteBoolean("ok", verdict is null);
                    if (verdict is not null) w.WriteString("reason", verdict);
                    w.WriteEndObject();
                    WriteDrain(w, _drains.GetValueOrDefault(new DrainKey(service.Name, pool.Name, null)));
                    w.WriteStartArray("backends");
                    foreach (var b in pool.Backends) WriteBackend(w, service.Name, pool, b, service.Tls is not null);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                WriteRetiredPools(w, service.Name, snapshot);
                w.WriteEndObject();
                WriteModels(w, service.Name);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            WriteMirrors(w);
        }
    }

    /// <summary>
    /// The "models" member of a service: per model and pool since start (model listeners only; empty otherwise):
    /// requests, 429s, tokens, time to first byte and stream duration percentiles.
    /// </summary>
    private void WriteModels(Utf8JsonWriter w, string service)
    {
        w.WriteStartArray("models");
        var totals = new long[ModelField.Count];
        foreach (var m in Registry.Models.All())
        {
            if (m.Service != service) continue;
            m.CopyTotals(totals);
            w.WriteStartObject();
            w.WriteString("model", m.Model);
            w.WriteString("pool", m.Pool);
            w.WriteNumber("requests", totals[ModelField.Requests]);
            w.WriteNumber("status_429", totals[ModelField.Status429]);
            w.WriteNumber("prompt_tokens", totals[ModelField.PromptTokens]);
            w.WriteNumber("completion_tokens", totals[ModelField.CompletionTokens]);
            WriteQuantiles(w, "first_byte", totals.AsSpan(ModelField.FirstByteBins, LatencyBins.Count));
            var streams = totals.AsSpan(ModelField.StreamBins, LatencyBins.Count);
            long streamCount = 0;
            foreach (var n in streams) streamCount += n;
            w.WriteNumber("streams", streamCount);
            WriteQuantiles(w, "stream", streams);
            WriteRecentModel(w, m, totals);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The "recent" member of a model entry: the last minute (what a release changes now, which totals since start hide).</summary>
    private void WriteRecentModel(Utf8JsonWriter w, ModelCounters m, long[] sum)
    {
        var seconds = Stats.Model(m, SecondBuckets.Seconds, sum);
        var per = Math.Max(1, seconds);
        w.WriteStartObject("recent");
        w.WriteNumber("window_seconds", seconds);
        w.WriteNumber("requests", sum[ModelField.Requests]);
        w.WriteNumber("requests_per_second", Math.Round((double)sum[ModelField.Requests] / per, 2));
        w.WriteNumber("status_429", sum[ModelField.Status429]);
        w.WriteNumber("prompt_tokens_per_second", Math.Round((double)sum[ModelField.PromptTokens] / per, 2));
        w.WriteNumber("completion_tokens_per_second", Math.Round((double)sum[ModelField.CompletionTokens] / per, 2));
        WriteQuantiles(w, "first_byte", sum.AsSpan(ModelField.FirstByteBins, LatencyBins.Count));
        w.WriteEndObject();
    }

    /// <summary>PREFIX_p50_ms and PREFIX_p99_ms of a histogram, null when it is empty.</summary>
    private static void WriteQuantiles(Utf8JsonWriter w, string prefix, ReadOnlySpan<long> bins)
    {
        long count = 0;
        foreach (var n in bins) count += n;
        foreach (var (q, name) in new[] { (0.5, "_p50_ms"), (0.99, "_p99_ms") })
        {
            if (count == 0) w.WriteNull(prefix + name);
            else w.WriteNumber(prefix + name, Math.Round(LatencyBins.Quantile(bins, q) * 1000, 2));
        }
    }

    /// <summary>The "mirrors" member of status: each mirror pool's copies in flight, sent, failed and dropped since start.</summary>
    private void WriteMirrors(Utf8JsonWriter w)
    {
        w.WriteStartArray("mirrors");
        foreach (var m in Registry.Mirrors())
        {
            w.WriteStartObject();
            w.WriteString("service", m.Service);
            w.WriteString("pool", m.Pool);
            w.WriteNumber("in_flight", m.InFlight);
            w.WriteNumber("sent", m.Sent);
            w.WriteNumber("failed", m.Failed);
            w.WriteNumber("dropped", m.Dropped);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// The "tls" member of a service: null when it speaks plain to its backends, else its settings and the handshakes
    /// of its backends' connections since start (the counters behind fastlb_backend_tls_*), summed over its pools.
    /// </summary>
    private static void WriteUpstreamTls(Utf8JsonWriter w, UpstreamTlsConfig? tls, ServiceSnapshot snapshot)
    {
        if (tls is null)
        {
            w.WriteNull("tls");
            return;
        }
        long handshakes = 0;
        var failures = new long[UpstreamTlsFailures.Count];
        foreach (var pool in snapshot.Pools)
        {
            foreach (var b in pool.Backends)
            {
                handshakes += b.State.Tls.Handshakes;
                for (var r = 0; r < failures.Length; r++) failures[r] += b.State.Tls.FailuresFor((UpstreamTlsFailure)r);
            }
        }
        w.WriteStartObject("tls");
        w.WriteBoolean("enabled", true);
        if (tls.Sni is null) w.WriteNull("sni");
        else w.WriteString("sni", tls.Sni);
        w.WriteBoolean("verify", tls.Verify);
        w.WriteString("min_version", tls.MinVersion);
        if (tls.CaPath is null) w.WriteNull("ca");
        else w.WriteString("ca", tls.CaPath);
        if (tls.ClientCertPath is null) w.WriteNull("client_cert");
        else w.WriteString("client_cert", tls.ClientCertPath);
        w.WriteNumber("handshakes", handshakes);
        w.WriteNumber("failures", failures.Sum());
        w.WriteStartObject("handshake_failures");
        for (var r = 0; r < failures.Length; r++) w.WriteNumber(UpstreamTlsFailures.Name((UpstreamTlsFailure)r), failures[r]);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteBackend(Utf8JsonWriter w, string service, PoolSnapshot pool, BackendSnapshot b, bool tls)
    {
        var live = b.State.Live;
        var drain = _drains.GetValueOrDefault(new DrainKey(service, pool.Name, b.Address));
        string state;
        if (b.Draining) state = live > 0 ? "draining" : "drained";
        else if (!pool.TakesTraffic || b.Weight == 0) state = live > 0 ? "draining" : "idle";
        else state = b.Routable ? "active" : "down";
        w.WriteStartObject();
        w.WriteString("address", b.Address);
        w.WriteNumber("weight", b.Weight);
        w.WriteNumber("live", live);
        w.WriteString("state", state);
        // Health as it is now (an ejection by the data plane shows before the next tick republishes the table).
        var health = b.State.Health.StateAt(time.GetUtcNow());
        w.WriteBoolean("healthy", health == Health.BackendHealthState.Healthy);
        WriteHealth(w, b, health);
        w.WriteNumber("total", b.State.TotalConnections);
        w.WriteNumber("failures", b.State.Failures);
        TrafficSummaryJson.WriteBrief(w, "stats", Stats.Backend(b.State));
        if (tls)
        {
            w.WriteStartObject("tls");
            w.WriteNumber("handshakes", b.State.Tls.Handshakes);
            long failed = 0;
            for (var r = 0; r < UpstreamTlsFailures.Count; r++) failed += b.State.Tls.FailuresFor((UpstreamTlsFailure)r);
            w.WriteNumber("failures", failed);
            w.WriteEndObject();
        }
        if (_overrides.TryGetValue(new BackendKey(service, pool.Name, b.Address), out var o))
        {
            w.WriteString("source", "runtime");
            if (o.Weight is { } weight) w.WriteNumber("runtime_weight", weight);
        }
        else
        {
            w.WriteString("source", "file");
        }
        if (drain is not null) WriteDrain(w, drain);
        w.WriteEndObject();
    }

    /// <summary>Per-backend health: state and since when, last check, checks in a row, ejections, effective weight.</summary>
    private static void WriteHealth(Utf8JsonWriter w, BackendSnapshot b, Health.BackendHealthState health)
    {
        var h = b.State.Health;
        w.WriteString("health", Label(health));
        if (h.Since is { } since) w.WriteString("health_since", Stamp(since));
        else w.WriteNull("health_since");
        w.WriteNumber("effective_weight", b.EffectiveWeight);
        if (h.LastCheck is { } last && h.LastCheckAt is { } at)
        {
            w.WriteStartObject("last_check");
            w.WriteString("at", Stamp(at));
            w.WriteBoolean("passed", last.Passed);
            w.WriteString("result", last.Describe());
            if (last.StatusCode != 0) w.WriteNumber("status_code", last.StatusCode);
            if (last.Error is not null) w.WriteString("error", last.Error);
            w.WriteNumber("latency_ms", Math.Round(last.Latency.TotalMilliseconds, 2));
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("last_check");
        }
        var (passes, failures) = h.InRow;
        w.WriteNumber("checks_passed_in_row", passes);
        w.WriteNumber("checks_failed_in_row", failures);
        w.WriteNumber("failures_in_row", h.RequestFailuresInRow);
        w.WriteNumber("ejections", h.Ejections);
        if (h.EjectedUntil is { } until) w.WriteString("ejected_until", Stamp(until));
        else w.WriteNull("ejected_until");
    }

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");

    /// <summary>Pools removed from the config by a reload whose connections are still draining.</summary>
    private void WriteRetiredPools(Utf8JsonWriter w, string service, ServiceSnapshot snapshot)
    {
        foreach (var (key, entry) in _drains)
        {
            if (key.Service != service || key.Address is not null || snapshot.FindPool(key.Pool) is not null) continue;
            w.WriteStartObject(key.Pool);
            w.WriteNumber("share", 0);
            w.WriteNumber("live", entry.Live);
            w.WriteBoolean("removed", true);
            WriteDrain(w, entry);
            w.WriteStartArray("backends");
            w.WriteEndArray();
            w.WriteEndObject();
        }
    }

    private void WriteDrain(Utf8JsonWriter w, DrainEntry? entry)
    {
        if (entry is null)
        {
            w.WriteNull("draining");
            return;
        }
        w.WriteStartObject("draining");
        w.WriteString("since", entry.Since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
        w.WriteString("deadline", entry.Deadline.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
        if (entry.DrainedAt is { } at) w.WriteString("drained_at", at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
        else w.WriteNull("drained_at");
        w.WriteNumber("live", entry.Live);
        w.WriteNumber("aborted", entry.Aborted);
        // Relative figures, so a reader needs no clock of its own: a countdown while draining, the time it took after.
        if (entry.DrainedAt is { } drained) w.WriteNumber("drained_after_ms", (long)(drained - entry.Since).TotalMilliseconds);
        else w.WriteNumber("deadline_in_ms", Math.Max(0, (long)(entry.Deadline - time.GetUtcNow()).TotalMilliseconds));
        w.WriteEndObject();
    }

    private static void WriteShares(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, int> shares)
    {
        w.WriteStartObject(name);
        foreach (var (pool, share) in Shares.Percent(shares)) w.WriteNumber(pool, share);
        w.WriteEndObject();
    }

    private static string BalanceName(FastLb.Core.Config.BalanceKind kind) => kind switch
    {
        FastLb.Core.Config.BalanceKind.RoundRobin => "round_robin",
        FastLb.Core.Config.BalanceKind.LeastRequest => "least_request",
        FastLb.Core.Config.BalanceKind.Random => "random",
        _ => "hash",
    };
}
