using FastLb.Core.Config;
using FastLb.Core.Health;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Core.Tls;
using FastLb.Core.Traffic;
using FastLb.Proxy.Transport;

namespace FastLb.Host.Admin;

/// <summary>
/// <c>GET /metrics</c>: every <c>fastlb_</c> family (process, routing, listeners, services, pools, backends) in the
/// Prometheus text format. Per-loop counters are merged here, at scrape time; the data plane never waits for it.
/// </summary>
internal sealed class MetricsExposition(FastLbRuntime runtime)
{
    private static readonly string[] Classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    private int _lastLength; // a new buffer starts at about the last scrape's size
    private byte[]? _spare;   // the last scrape's buffer, reused by the next (two scrapes at once: the second allocates)

    /// <summary>Takes a sent scrape's buffer back, keeping the latest (a concurrent scrape's other buffer is dropped).</summary>
    public void Return(byte[] buffer) => Volatile.Write(ref _spare, buffer);

    /// <summary>The exposition as text (tests and tools); the admin endpoint sends <see cref="RenderUtf8"/>.</summary>
    public string Render()
    {
        using var text = RenderUtf8();
        return System.Text.Encoding.UTF8.GetString(text.Utf8.Span);
    }

    /// <summary>The exposition, UTF-8, in a buffer to dispose once sent (it is kept for the next scrape).</summary>
    public MetricsText RenderUtf8()
    {
        var buffer = Interlocked.Exchange(ref _spare, null) ?? new byte[Math.Max(64 * 1024, _lastLength + _lastLength / 8)];
        var w = new PrometheusTextWriter(buffer);
        var table = runtime.Router.Current;
        WriteProcess(w);
        w.Family("fastlb_routing_generation", "gauge", "Routing table generation in force.");
        w.Sample("fastlb_routing_generation", table.Generation);
        w.Family("fastlb_routing_last_publish_timestamp_seconds", "gauge", "When the routing table in force was published (Unix time).");
        w.Sample("fastlb_routing_last_publish_timestamp_seconds", runtime.Router.PublishedAtUnixMs / 1000.0);
        WriteConnectionLimits(w);
        WriteListeners(w);
        var backends = Backends(runtime.Controller.Registry);
        var totals = new long[backends.Count][];
        for (var i = 0; i < backends.Count; i++)
        {
            totals[i] = new long[TrafficField.Count];
            backends[i].Traffic.CopyTotals(totals[i]);
        }
        WriteServices(w, backends, totals);
        WritePools(w, table, backends, totals);
        WriteBackends(w, table, backends, totals);
        WriteHealth(w, table);
        WriteLogs(w);
        WriteRollouts(w);
        WriteMirrors(w);
        WriteFallbacks(w);
        WriteTokenLimits(w, table.Config);
        WriteModels(w);
        _lastLength = w.Length;
        return new MetricsText(this, w.Buffer, w.Length);
    }

    private void WriteRollouts(PrometheusTextWriter w)
    {
        var rollouts = runtime.Controller.RolloutFigures();
        static string[] ServicePool(RolloutFigures r) => ["service", r.Service, "pool", r.Pool];
        static string[] Service(RolloutFigures r) => ["service", r.Service];
        w.Family("fastlb_rollout_active", "gauge", "1 while a rollout of the service to the pool runs (also paused or at a manual gate).", rollouts, ServicePool, r => r.Active ? 1 : 0);
        w.Family("fastlb_rollout_share_percent", "gauge", "The share the current or last rollout gives its pool, percent.", rollouts, ServicePool, r => r.Share);
        w.Family("fastlb_rollout_step", "gauge", "The step of the current or last rollout (1 = first; 0 before the first step).", rollouts, ServicePool, r => r.Step);
        w.Family("fastlb_rollout_started_total", "counter", "Rollouts started per service.", rollouts, Service, r => r.Started);
        w.Family("fastlb_rollout_completed_total", "counter", "Rollouts that passed every step per service.", rollouts, Service, r => r.Completed);
        w.Family("fastlb_rollout_rollbacks_total", "counter", "Rollouts rolled back per service (a breached step, an inconclusive one, or abort).", rollouts, Service, r => r.RolledBack);
    }

    private void WriteMirrors(PrometheusTextWriter w)
    {
        var mirrors = runtime.Controller.Registry.Mirrors();
        static string[] ServicePool(MirrorState m) => ["service", m.Service, "pool", m.Pool];
        w.Family("fastlb_mirror_in_flight", "gauge", "Copies of requests in flight to the mirror pool.", mirrors, ServicePool, m => m.InFlight);
        w.Family("fastlb_mirror_sent_total", "counter", "Copies of requests written whole to the mirror pool.", mirrors, ServicePool, m => m.Sent);
        w.Family("fastlb_mirror_failed_total", "counter", "Copies that found no backend, failed to connect or send, or got no response or a 5xx.", mirrors, ServicePool, m => m.Failed);
        w.Family("fastlb_mirror_dropped_total", "counter", "Requests chosen for a copy but not copied (max_in_flight, max_body, or the request ended first).", mirrors, ServicePool, m => m.Dropped);
    }

    private void WriteFallbacks(PrometheusTextWriter w)
    {
        var fallbacks = runtime.Controller.Registry.Fallbacks.Snapshot();
        w.Family("fastlb_fallbacks_total", "counter", "Requests sent on to the next fallback target, by routed service, failed service/pool, target and reason.");
        foreach (var (key, count) in fallbacks)
        {
            w.Sample("fastlb_fallbacks_total", ["service", key.Service, "from", $"{key.FromService}/{key.FromPool}", "to", key.To, "reason", FallbackReasonNames.Name(key.Reason)], count);
        }
    }

    private void WriteTokenLimits(PrometheusTextWriter w, FastLb.Core.Config.FastLbConfig config)
    {
        var limiters = runtime.Proxy.TokenLimiters.All
            .Where(l => config.Listeners.Any(c => c.Name == l.Listener && c.TokenLimits is not null)).ToList();
        if (limiters.Count == 0) return;
        w.Family("fastlb_token_limit_rejected_total", "counter", "Requests answered 429 by token_limits, by the bucket that was empty (listener or key).");
        foreach (var l in limiters)
        {
            w.Sample("fastlb_token_limit_rejected_total", ["listener", l.Listener, "bucket", "listener"], l.RejectedByListener);
            w.Sample("fastlb_token_limit_rejected_total", ["listener", l.Listener, "bucket", "key"], l.RejectedByKey);
        }
        w.Family("fastlb_token_limit_keys", "gauge", "API keys holding a token bucket (keys owed tokens; at most max_keys).");
        foreach (var l in limiters) w.Sample("fastlb_token_limit_keys", ["listener", l.Listener], l.Keys);
        w.Family("fastlb_token_limit_untracked_total", "counter", "Charges of API keys that got no bucket because max_keys buckets were owed tokens.");
        foreach (var l in limiters) w.Sample("fastlb_token_limit_untracked_total", ["listener", l.Listener], l.Untracked);
        w.Family("fastlb_api_key_tokens_total", "counter", "Tokens charged per API key (16 hex digits of its SHA-256; the first 100 keys seen, the rest as other).");
        foreach (var l in limiters)
        {
            foreach (var k in l.KeySeries()) w.Sample("fastlb_api_key_tokens_total", ["listener", l.Listener, "key", k.Id], k.Tokens);
        }
        w.Family("fastlb_api_key_token_limit_rejected_total", "counter", "Requests of an API key answered 429 because its bucket was empty (same keys as fastlb_api_key_tokens_total).");
        foreach (var l in limiters)
        {
            foreach (var k in l.KeySeries()) w.Sample("fastlb_api_key_token_limit_rejected_total", ["listener", l.Listener, "key", k.Id], k.Rejected);
        }
    }

    /// <summary>Stream durations run to minutes: their buckets reach past the request buckets' 10 s (every bound is a bin bound).</summary>
    private static readonly double[] StreamBucketSeconds = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

    /// <summary>Per model (a config name, a prefix with '*', or a folded value) and the pool that served it: model listeners only.</summary>
    private void WriteModels(PrometheusTextWriter w)
    {
        var series = runtime.Controller.Registry.Models.All();
        var labels = series.Select(m => new[] { "service", m.Service, "pool", m.Pool, "model", m.Model }).ToList();
        var totals = series.Select(m =>
        {
            var t = new long[ModelField.Count];
            m.CopyTotals(t);
            return t;
        }).ToArray();
        Scalar(w, "fastlb_model_requests_total", "Requests per model that reached a backend of the pool and ended.", labels, totals, ModelField.Requests);
        Scalar(w, "fastlb_model_rate_limited_total", "Requests per model answered 429 Too Many Requests.", labels, totals, ModelField.Status429);
        Scalar(w, "fastlb_model_prompt_tokens_total", "Prompt tokens per model the responses reported in usage.", labels, totals, ModelField.PromptTokens);
        Scalar(w, "fastlb_model_completion_tokens_total", "Completion tokens per model the responses reported in usage.", labels, totals, ModelField.CompletionTokens);
        w.Family("fastlb_model_time_to_first_byte_seconds", "histogram", "Time from the request head to the first response body byte sent to the client (for a stream: the first event); to the head for a response without a body.");
        for (var i = 0; i < series.Count; i++)
        {
            WriteHistogram(w, "fastlb_model_time_to_first_byte_seconds", labels[i], totals[i], ModelField.FirstByteBins, ModelField.FirstByteSumMicros);
        }
        w.Family("fastlb_model_stream_duration_seconds", "histogram", "Duration of requests answered with an event stream, from the request head to the stream's end.");
        var lastBins = StreamBucketSeconds.Select(b => LatencyBins.Of((long)Math.Round(b * 1e6))).ToArray();
        Span<long> cumulative = stackalloc long[StreamBucketSeconds.Length];
        for (var i = 0; i < series.Count; i++)
        {
            var t = totals[i];
            long running = 0;
            var bin = 0;
            for (var b = 0; b < lastBins.Length; b++)
            {
                for (; bin <= lastBins[b]; bin++) running += t[ModelField.StreamBins + bin];
                cumulative[b] = running;
            }
            for (; bin < LatencyBins.Count; bin++) running += t[ModelField.StreamBins + bin];
            w.Histogram("fastlb_model_stream_duration_seconds", labels[i], StreamBucketSeconds, cumulative, running, t[ModelField.StreamSumMicros] / 1e6);
        }
    }

    private static void WriteProcess(PrometheusTextWriter w)
    {
        w.Family("fastlb_build_info", "gauge", "FastLb build; the value is always 1.");
        w.Sample("fastlb_build_info", ["version", ProcessFigures.Version, "runtime", Environment.Version.ToString()], 1);
        w.Family("fastlb_process_start_time_seconds", "gauge", "When the process started (Unix time).");
        w.Sample("fastlb_process_start_time_seconds", ProcessFigures.StartedAt.ToUnixTimeMilliseconds() / 1000.0);
        w.Family("fastlb_uptime_seconds", "gauge", "Seconds since the process started.");
        w.Sample("fastlb_uptime_seconds", Math.Round(ProcessFigures.UptimeSeconds, 3));
        w.Family("fastlb_process_resident_memory_bytes", "gauge", "Resident set size.");
        w.Sample("fastlb_process_resident_memory_bytes", ProcessFigures.ResidentBytes());
        w.Family("fastlb_process_open_fds", "gauge", "Open file descriptors.");
        w.Sample("fastlb_process_open_fds", ProcessFigures.OpenFds());
        w.Family("fastlb_process_threads", "gauge", "Threads of the process.");
        w.Sample("fastlb_process_threads", ProcessFigures.Threads());
        w.Family("fastlb_gc_collections_total", "counter", "Garbage collections by generation.");
        for (var g = 0; g <= 2; g++) w.Sample("fastlb_gc_collections_total", ["generation", g.ToString(System.Globalization.CultureInfo.InvariantCulture)], GC.CollectionCount(g));
        w.Family("fastlb_gc_pause_seconds_total", "counter", "Time the runtime paused threads for garbage collection.");
        w.Sample("fastlb_gc_pause_seconds_total", GC.GetTotalPauseDuration().TotalSeconds);
        w.Family("fastlb_gc_heap_bytes", "gauge", "Managed heap size.");
        w.Sample("fastlb_gc_heap_bytes", GC.GetTotalMemory(forceFullCollection: false));
        w.Family("fastlb_allocated_bytes_total", "counter", "Managed bytes allocated.");
        w.Sample("fastlb_allocated_bytes_total", GC.GetTotalAllocatedBytes(precise: false));
    }

    private void WriteLogs(PrometheusTextWriter w)
    {
        var logs = runtime.Proxy.AccessLogs;
        w.Family("fastlb_access_log_lines_total", "counter", "Access log lines accepted for writing.");
        w.Sample("fastlb_access_log_lines_total", logs.Lines);
        w.Family("fastlb_access_log_dropped_total", "counter", "Access log lines lost: the loop's buffer was full, or the file could not be written.");
        w.Sample("fastlb_access_log_dropped_total", logs.Dropped);
        w.Family("fastlb_log_dropped_total", "counter", "Process log lines dropped because the log queue was full.");
        w.Sample("fastlb_log_dropped_total", FastLb.Core.Diagnostics.Log.DroppedLines);
        w.Family("fastlb_error_log_suppressed_total", "counter", "Per-request error lines (FastLb's own error answers, connect failures, resets) left out of the process log by its rate limit.");
        w.Sample("fastlb_error_log_suppressed_total", FastLb.Core.Diagnostics.ErrorLogLimiter.Shared.Suppressed);
    }

    private void WriteConnectionLimits(PrometheusTextWriter w)
    {
        var proxy = runtime.Proxy;
        w.Family("fastlb_connections_active", "gauge", "Open client connections over all listeners, counted against max_connections.");
        w.Sample("fastlb_connections_active", proxy.LiveConnections);
        if (proxy.MaxConnections != int.MaxValue)
        {
            w.Family("fastlb_connections_max", "gauge", "max_connections in force (from the config, else derived from the descriptor limit).");
            w.Sample("fastlb_connections_max", proxy.MaxConnections);
        }
        w.Family("fastlb_connections_parked", "gauge", "Idle keep-alive client connections parked: holding their socket and little else until their next request.");
        w.Sample("fastlb_connections_parked", proxy.ParkedConnections);
        w.Family("fastlb_connections_refused_total", "counter", "Client connections closed at once: past a connection limit with on_limit: close, or out of descriptors.");
        w.Sample("fastlb_connections_refused_total", proxy.RefusedConnections);
        var budget = DescriptorBudget.Process;
        if (runtime.Descriptors is { } plan)
        {
            w.Family("fastlb_descriptors_limit", "gauge", "The process's descriptor limit (RLIMIT_NOFILE).");
            w.Sample("fastlb_descriptors_limit", plan.Limit);
            w.Family("fastlb_descriptors_budget", "gauge", "Descriptors the data plane may hold: the limit less those open at start and the reserve.");
            w.Sample("fastlb_descriptors_budget", plan.Budget);
        }
        w.Family("fastlb_descriptors_held", "gauge", "Descriptors the data plane holds now (client and upstream sockets, splice pipes).");
        w.Sample("fastlb_descriptors_held", budget.Held);
        w.Family("fastlb_descriptors_exhausted_total", "counter", "Calls that found the process out of descriptors or buffers, by call.");
        w.Sample("fastlb_descriptors_exhausted_total", ["call", "accept"], Exhaustion.Accept.Total);
        w.Sample("fastlb_descriptors_exhausted_total", ["call", "connect"], Exhaustion.Connect.Total);
        w.Sample("fastlb_descriptors_exhausted_total", ["call", "pipe"], Exhaustion.Pipe.Total);
        w.Sample("fastlb_descriptors_exhausted_total", ["call", "epoll"], Exhaustion.Epoll.Total);
    }

    private void WriteListeners(PrometheusTextWriter w)
    {
        var listeners = runtime.Proxy.ListenerTraffic.All.ToList();
        var totals = listeners.Select(l =>
        {
            var t = new long[TrafficField.Count];
            l.Traffic.CopyTotals(t);
            return t;
        }).ToList();
        static string[] Listener(ListenerTraffic l) => ["listener", l.Name];
        w.Family("fastlb_listener_connections_active", "gauge", "Open client connections per listener.", listeners, Listener, l => l.ActiveConnections);
        w.Family("fastlb_listener_connections_total", "counter", "Client connections accepted per listener.", listeners, Listener, l => l.TotalConnections);
        w.Family("fastlb_listener_proxy_header_rejected_total", "counter", "Connections closed for a missing, malformed or late PROXY protocol header.", listeners, Listener, l => l.RejectedProxyHeaders);
        w.Family("fastlb_listener_connections_refused_total", "counter", "Client connections closed at once per listener: past a connection limit with on_limit: close, or out of descriptors.",
            listeners, Listener, l => l.RefusedConnections);
        w.Family("fastlb_listener_tls_client_hello_rejected_total", "counter", "TLS passthrough connections closed for a malformed, oversized, truncated or late ClientHello or no matching sni route.",
            listeners, Listener, l => l.RejectedClientHellos);
        WriteTls(w, listeners);
        w.Family("fastlb_listener_requests_total", "counter", "HTTP requests answered per listener by status class, FastLb's own answers included.");
        for (var i = 0; i < listeners.Count; i++)
        {
            for (var c = 0; c < Classes.Length; c++)
            {
                w.Sample("fastlb_listener_requests_total", ["listener", listeners[i].Name, "code", Classes[c]], totals[i][TrafficField.Status1xx + c]);
            }
        }
        w.Family("fastlb_listener_received_bytes_total", "counter", "Bytes received from clients per listener.");
        for (var i = 0; i < listeners.Count; i++) w.Sample("fastlb_listener_received_bytes_total", ["listener", listeners[i].Name], totals[i][TrafficField.BytesIn]);
        w.Family("fastlb_listener_sent_bytes_total", "counter", "Bytes sent to clients per listener.");
        for (var i = 0; i < listeners.Count; i++) w.Sample("fastlb_listener_sent_bytes_total", ["listener", listeners[i].Name], totals[i][TrafficField.BytesOut]);
        w.Family("fastlb_listener_request_duration_seconds", "histogram", "Request (HTTP) or connection (TCP) duration per listener.");
        for (var i = 0; i < listeners.Count; i++)
        {
            WriteHistogram(w, "fastlb_listener_request_duration_seconds", ["listener", listeners[i].Name], totals[i], TrafficField.DurationBins, TrafficField.DurationSumMicros);
        }
    }

    /// <summary>TLS-terminating listeners: certificate expiry (from the config in force) and handshakes by outcome.</summary>
    private void WriteTls(PrometheusTextWriter w, List<ListenerTraffic> listeners)
    {
        var tlsListeners = runtime.Router.Current.Config.Listeners.Where(l => l.Tls is not null).ToList();
        w.Family("fastlb_tls_certificate_expiry_seconds", "gauge", "When each certificate of a TLS listener expires (Unix time); alert on it minus time().");
        foreach (var l in tlsListeners)
        {
            foreach (var c in l.Tls!.Certificates)
            {
                w.Sample("fastlb_tls_certificate_expiry_seconds", ["listener", l.Name, "file", c.Path, "names", string.Join(",", c.Names)], c.NotAfter.ToUnixTimeSeconds());
            }
        }
        var terminating = listeners.Where(l => tlsListeners.Any(t => t.Name == l.Name)).ToList();
        w.Family("fastlb_listener_tls_handshakes_total", "counter", "TLS handshakes finished per terminating listener.");
        foreach (var l in terminating) w.Sample("fastlb_listener_tls_handshakes_total", ["listener", l.Name], l.TlsHandshakes);
        w.Family("fastlb_listener_tls_handshake_failures_total", "counter", "TLS handshakes a terminating listener gave up on, by reason (timeout, closed, not_tls, protocol, client_certificate, other).");
        foreach (var l in terminating)
        {
            for (var r = 0; r < TlsHandshakeFailures.Count; r++)
            {
                var reason = (TlsHandshakeFailure)r;
                w.Sample("fastlb_listener_tls_handshake_failures_total", ["listener", l.Name, "reason", TlsHandshakeFailures.Name(reason)], l.TlsHandshakeFailuresFor(reason));
            }
        }
    }

    private static void WriteServices(PrometheusTextWriter w, List<BackendState> backends, long[][] totals)
    {
        var services = SumBy(backends, totals, b => (b.Service, ""));
        w.Family("fastlb_service_requests_total", "counter", "Requests (HTTP) or connections (TCP) that reached a backend of the service, by status class (none: TCP).");
        foreach (var ((service, _), sum) in services) WriteByClass(w, "fastlb_service_requests_total", ["service", service], sum);
    }

    private void WritePools(PrometheusTextWriter w, RoutingTable table, List<BackendState> backends, long[][] totals)
    {
        var pools = SumBy(backends, totals, b => (b.Service, b.Pool));
        var live = new Dictionary<(string, string), int>();
        foreach (var b in backends) live[(b.Service, b.Pool)] = live.GetValueOrDefault((b.Service, b.Pool)) + b.Live;
        var drains = new Dictionary<(string, string), DrainEntry>();
        foreach (var d in runtime.Controller.Drains)
        {
            if (d.Address is null) drains[(d.Service, d.Pool)] = d;
        }
        var now = DateTimeOffset.UtcNow;
        w.Family("fastlb_pool_share_percent", "gauge", "Share of the service's new traffic per pool, in percent.");
        foreach (var ((service, pool), _) in pools) w.Sample("fastlb_pool_share_percent", ["service", service, "pool", pool], SharePercent(table, service, pool));
        w.Family("fastlb_pool_requests_total", "counter", "Requests (HTTP) or connections (TCP) per pool, by status class (none: TCP).");
        foreach (var ((service, pool), sum) in pools) WriteByClass(w, "fastlb_pool_requests_total", ["service", service, "pool", pool], sum);
        w.Family("fastlb_pool_live", "gauge", "Connections (TCP) or requests (HTTP) in flight per pool.");
        foreach (var ((service, pool), _) in pools) w.Sample("fastlb_pool_live", ["service", service, "pool", pool], live[(service, pool)]);
        w.Family("fastlb_pool_draining", "gauge", "1 while the pool drains after losing its share, else 0.");
        foreach (var ((service, pool), _) in pools)
        {
            w.Sample("fastlb_pool_draining", ["service", service, "pool", pool], drains.GetValueOrDefault((service, pool)) is { DrainedAt: null } ? 1 : 0);
        }
        w.Family("fastlb_pool_drain_deadline_seconds", "gauge", "Seconds left until the drain deadline of a draining pool (0 when not draining).");
        foreach (var ((service, pool), _) in pools)
        {
            var left = drains.GetValueOrDefault((service, pool)) is { DrainedAt: null } drain ? Math.Max(0, (drain.Deadline - now).TotalSeconds) : 0;
            w.Sample("fastlb_pool_drain_deadline_seconds", ["service", service, "pool", pool], Math.Round(left, 3));
        }
        w.Family("fastlb_pool_drain_cut_total", "counter", "Connections cut because they were still open at a drain deadline.");
        foreach (var ((service, pool), sum) in pools) w.Sample("fastlb_pool_drain_cut_total", ["service", service, "pool", pool], sum[TrafficField.DrainCuts]);
    }

    /// <summary>TLS to backends: only the backends of services with tls get these series, so plain services add nothing to a scrape.</summary>
    private static void WriteUpstreamTls(PrometheusTextWriter w, RoutingTable table, List<BackendState> backends, List<string[]> labels)
    {
        var tls = new List<int>();
        for (var i = 0; i < backends.Count; i++)
        {
            if (table.FindService(backends[i].Service)?.Config.Tls is not null) tls.Add(i);
        }
        w.Family("fastlb_backend_tls_handshakes_total", "counter", "TLS handshakes FastLb completed with the backend (services with tls): one per new upstream connection, none for a pooled reuse.");
        foreach (var i in tls) w.Sample("fastlb_backend_tls_handshakes_total", labels[i], backends[i].Tls.Handshakes);
        w.Family("fastlb_backend_tls_failures_total", "counter", "TLS handshakes with the backend that failed, by reason (untrusted, name_mismatch, no_certificate, timeout, handshake); the connection is closed, never used in plain text.");
        foreach (var i in tls)
        {
            for (var r = 0; r < UpstreamTlsFailures.Count; r++)
            {
                var reason = (UpstreamTlsFailure)r;
                w.Sample("fastlb_backend_tls_failures_total", [.. labels[i], "reason", UpstreamTlsFailures.Name(reason)], backends[i].Tls.FailuresFor(reason));
            }
        }
    }

    private void WriteBackends(PrometheusTextWriter w, RoutingTable table, List<BackendState> backends, long[][] totals)
    {
        var labels = backends.Select(b => new[] { "service", b.Service, "pool", b.Pool, "backend", b.Address }).ToList();
        w.Family("fastlb_backend_requests_total", "counter", "Requests (HTTP) or connections (TCP) that reached the backend, by status class (none: TCP, or no response).");
        for (var i = 0; i < backends.Count; i++) WriteByClass(w, "fastlb_backend_requests_total", labels[i], totals[i]);
        Scalar(w, "fastlb_backend_connect_failures_total", "Connects refused or unreachable.", labels, totals, TrafficField.ConnectFailures);
        Scalar(w, "fastlb_backend_connect_timeouts_total", "Connects that did not finish within connect_timeout.", labels, totals, TrafficField.ConnectTimeouts);
        Scalar(w, "fastlb_backend_timeouts_total", "Exchanges that timed out after connecting (response head or idle).", labels, totals, TrafficField.Timeouts);
        Scalar(w, "fastlb_backend_resets_total", "Exchanges the backend reset or cut (reset, invalid or truncated response).", labels, totals, TrafficField.Resets);
        Scalar(w, "fastlb_backend_broken_responses_total", "Responses below 500 the backend then reset, truncated or stalled (counted as errors).", labels, totals, TrafficField.BrokenResponses);
        Scalar(w, "fastlb_backend_prompt_tokens_total", "Prompt tokens the backend's responses reported in usage (listeners with model routes).", labels, totals, TrafficField.PromptTokens);
        Scalar(w, "fastlb_backend_completion_tokens_total", "Completion tokens the backend's responses reported in usage (listeners with model routes).", labels, totals, TrafficField.CompletionTokens);
        Scalar(w, "fastlb_backend_retries_total", "Requests or connects tried again after a failed attempt.", labels, totals, TrafficField.Retries);
        Scalar(w, "fastlb_backend_received_bytes_total", "Bytes received from clients for this backend.", labels, totals, TrafficField.BytesIn);
        Scalar(w, "fastlb_backend_sent_bytes_total", "Bytes sent to clients from this backend.", labels, totals, TrafficField.BytesOut);
        Scalar(w, "fastlb_backend_upstream_connections_total", "Upstream connections opened.", labels, totals, TrafficField.ConnectionsOpened);
        Scalar(w, "fastlb_backend_drain_cut_total", "Connections cut at a drain deadline.", labels, totals, TrafficField.DrainCuts);
        w.Family("fastlb_backend_started_total", "counter", "Connections (TCP) or requests (HTTP) started on the backend.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_started_total", labels[i], backends[i].TotalConnections);
        w.Family("fastlb_backend_live", "gauge", "Connections (TCP) or requests (HTTP) in flight.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_live", labels[i], backends[i].Live);
        var pool = runtime.Http.Pool;
        w.Family("fastlb_backend_upstream_idle", "gauge", "Idle pooled keep-alive connections to the backend.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_upstream_idle", labels[i], pool.IdleCountOf(backends[i]));
        w.Family("fastlb_backend_upstream_busy", "gauge", "Upstream connections to the backend carrying an exchange or a tunnel.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_upstream_busy", labels[i], Math.Max(0, backends[i].UpstreamOpen - pool.IdleCountOf(backends[i])));
        w.Family("fastlb_backend_weight", "gauge", "Effective weight in the routing table in force (0: no new traffic; absent from the table: 0).");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_weight", labels[i], Find(table, backends[i])?.Weight ?? 0);
        var now = DateTimeOffset.UtcNow;
        var health = backends.Select(b => b.Health.StateAt(now)).ToList();
        w.Family("fastlb_backend_healthy", "gauge", "1 when the backend is healthy (checks pass, not ejected), else 0.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_healthy", labels[i], health[i] == BackendHealthState.Healthy ? 1 : 0);
        w.Family("fastlb_backend_ejected", "gauge", "1 while outlier detection has ejected the backend, else 0.");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_ejected", labels[i], health[i] == BackendHealthState.Ejected ? 1 : 0);
        w.Family("fastlb_backend_failures_total", "counter", "Failed attempts that count toward ejection (connect failures and timeouts, resets before a response, 5xx with eject_on_5xx).");
        for (var i = 0; i < backends.Count; i++) w.Sample("fastlb_backend_failures_total", labels[i], backends[i].Failures);
        WriteUpstreamTls(w, table, backends, labels);
        w.Family("fastlb_backend_request_duration_seconds", "histogram", "Request duration: HTTP from the request head to the end of the response; TCP the connection's life.");
        for (var i = 0; i < backends.Count; i++) WriteHistogram(w, "fastlb_backend_request_duration_seconds", labels[i], totals[i], TrafficField.DurationBins, TrafficField.DurationSumMicros);
        w.Family("fastlb_backend_response_head_seconds", "histogram", "Time from sending the request to receiving the response head (HTTP).");
        for (var i = 0; i < backends.Count; i++) WriteHistogram(w, "fastlb_backend_response_head_seconds", labels[i], totals[i], TrafficField.HeadBins, TrafficField.HeadSumMicros);
        w.Family("fastlb_backend_connect_duration_seconds", "histogram", "Upstream connect duration (connections opened).");
        for (var i = 0; i < backends.Count; i++) WriteHistogram(w, "fastlb_backend_connect_duration_seconds", labels[i], totals[i], TrafficField.ConnectBins, TrafficField.ConnectSumMicros);
    }

    private static readonly BackendHealthState[] HealthStates = [BackendHealthState.Unknown, BackendHealthState.Healthy, BackendHealthState.Unhealthy, BackendHealthState.Ejected];

    /// <summary>Health per backend and pool: state (one series per state, 1 for the current one), checks, check latency, ejections, effective weight, panic.</summary>
    private static void WriteHealth(PrometheusTextWriter w, RoutingTable table)
    {
        var now = DateTimeOffset.UtcNow;
        var backends = new List<(string[] Labels, BackendSnapshot Backend)>();
        var pools = new List<(string[] Labels, PoolSnapshot Pool)>();
        foreach (var (name, service) in table.Services)
        {
            foreach (var pool in service.Pools)
            {
                pools.Add((["service", name, "pool", pool.Name], pool));
                foreach (var b in pool.Backends) backends.Add((["service", name, "pool", pool.Name, "backend", b.Address], b));
            }
        }
        w.Family("fastlb_backend_health_state", "gauge", "Health of the backend: 1 for its current state (unknown, healthy, unhealthy, ejected), else 0.");
        foreach (var (labels, b) in backends)
        {
            var current = b.State.Health.StateAt(now);
            foreach (var state in HealthStates) w.Sample("fastlb_backend_health_state", labels, "state", TrafficController.Label(state), state == current ? 1 : 0);
        }
        w.Family("fastlb_backend_health_checks_total", "counter", "Active health checks run, by result.");
        foreach (var (labels, b) in backends)
        {
            var (checks, failed, _) = b.State.Health.CheckCounts;
            w.Sample("fastlb_backend_health_checks_total", labels, "result", "passed", checks - failed);
            w.Sample("fastlb_backend_health_checks_total", labels, "result", "failed", failed);
        }
        w.Family("fastlb_backend_health_check_seconds", "summary", "Latency of active health checks.");
        foreach (var (labels, b) in backends)
        {
            var (checks, _, latency) = b.State.Health.CheckCounts;
            w.Sample("fastlb_backend_health_check_seconds_sum", labels, latency.TotalSeconds);
            w.Sample("fastlb_backend_health_check_seconds_count", labels, checks);
        }
        w.Family("fastlb_backend_ejections_total", "counter", "Outlier ejections.");
        foreach (var (labels, b) in backends) w.Sample("fastlb_backend_ejections_total", labels, b.State.Health.Ejections);
        w.Family("fastlb_backend_effective_weight", "gauge", "Weight after health and slow start (0 = takes no traffic).");
        foreach (var (labels, b) in backends) w.Sample("fastlb_backend_effective_weight", labels, b.EffectiveWeight);
        w.Family("fastlb_pool_healthy_backends", "gauge", "Backends with weight above 0 that may take traffic by their health.");
        foreach (var (labels, p) in pools) w.Sample("fastlb_pool_healthy_backends", labels, p.HealthyCount);
        w.Family("fastlb_pool_panic", "gauge", "1 while the pool ignores health (below panic_threshold).");
        foreach (var (labels, p) in pools) w.Sample("fastlb_pool_panic", labels, p.Panic ? 1 : 0);
    }

    private static void Scalar(PrometheusTextWriter w, string name, string help, List<string[]> labels, long[][] totals, int field)
    {
        w.Family(name, "counter", help);
        for (var i = 0; i < labels.Count; i++) w.Sample(name, labels[i], totals[i][field]);
    }

    private static void WriteByClass(PrometheusTextWriter w, string name, string[] labels, long[] totals)
    {
        long classified = 0;
        for (var c = 0; c < Classes.Length; c++)
        {
            var n = totals[TrafficField.Status1xx + c];
            classified += n;
            w.Sample(name, labels, "code", Classes[c], n);
        }
        w.Sample(name, labels, "code", "none", Math.Max(0, totals[TrafficField.Requests] - classified));
    }

    private static void WriteHistogram(PrometheusTextWriter w, string name, string[] labels, long[] totals, int bins, int sumField)
    {
        var bounds = LatencyBins.ExportedSeconds;
        var lastBins = LatencyBins.ExportedLastBin;
        Span<long> cumulative = stackalloc long[bounds.Length];
        long running = 0;
        var bin = 0;
        for (var b = 0; b < bounds.Length; b++)
        {
            for (; bin <= lastBins[b]; bin++) running += totals[bins + bin];
            cumulative[b] = running;
        }
        long count = 0;
        for (var i = 0; i < LatencyBins.Count; i++) count += totals[bins + i];
        w.Histogram(name, labels, bounds, cumulative, count, totals[sumField] / 1e6);
    }

    /// <summary>Sums the backends' totals by a key, in the backends' (sorted) order.</summary>
    private static List<KeyValuePair<(string, string), long[]>> SumBy(List<BackendState> backends, long[][] totals, Func<BackendState, (string, string)> key)
    {
        var sums = new Dictionary<(string, string), long[]>();
        var order = new List<KeyValuePair<(string, string), long[]>>();
        for (var i = 0; i < backends.Count; i++)
        {
            var k = key(backends[i]);
            if (!sums.TryGetValue(k, out var sum))
            {
                sums[k] = sum = new long[TrafficField.Count];
                order.Add(new(k, sum));
            }
            for (var f = 0; f < sum.Length; f++) sum[f] += totals[i][f];
        }
        return order;
    }

    private static int SharePercent(RoutingTable table, string service, string pool)
    {
        var snapshot = table.FindService(service);
        if (snapshot is null) return 0;
        var total = snapshot.Pools.Sum(p => p.Share);
        var share = snapshot.FindPool(pool)?.Share ?? 0;
        return total == 0 ? 0 : (int)Math.Round(100.0 * share / total);
    }

    private static BackendSnapshot? Find(RoutingTable table, BackendState state)
    {
        var pool = table.FindService(state.Service)?.FindPool(state.Pool);
        if (pool is null) return null;
        foreach (var b in pool.Backends)
        {
            if (ReferenceEquals(b.State, state)) return b;
        }
        return null;
    }

    private static List<BackendState> Backends(BackendStateRegistry registry) =>
        [.. registry.All.OrderBy(b => b.Service, StringComparer.Ordinal).ThenBy(b => b.Pool, StringComparer.Ordinal).ThenBy(b => b.Address, StringComparer.Ordinal)];
}
