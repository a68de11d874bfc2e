using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Metrics;
using FastLb.Core.Tls;
using FastLb.Core.Traffic;

namespace FastLb.Host.Control;

/// <summary>Turns one control line into one JSON reply line. Every change replies with the generation it published.</summary>
internal sealed class ControlCommandHandler(FastLbRuntime runtime)
{
    public const string Commands = "status, stats, history, events, swap, split, rollback, rollout, rollout-status, pause, resume, promote, abort, weight, drain, enable, reload, reopen-logs, upgrade";

    private static readonly string[] Changes = ["swap", "split", "rollback", "rollout", "pause", "resume", "promote", "abort", "weight", "drain", "enable", "reload"];

    /// <summary>True for a command that changes what runs (logged with the peer that sent it).</summary>
    public static bool ChangesState(string command) => Changes.Contains(command) || command is "upgrade" or "reopen-logs";

    public async Task<string> HandleAsync(string line)
    {
        var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return Error($"empty command; commands are: {Commands}");
        if (Changes.Contains(words[0]) && runtime.UpgradeInProgress)
        {
            // The state was handed to the new process already: a change here now would be lost or diverge.
            return Error($"an upgrade is in progress: '{words[0]}' is refused until it ends (then retry; after a successful upgrade the new process answers)");
        }
        // `--force` (swap, split) overrides the release gate; it may stand anywhere after the command.
        var force = words.Length > 1 && words.Contains("--force");
        if (force)
        {
            if (words[0] is not ("swap" or "split" or "rollout" or "promote")) return Error($"--force only applies to swap, split, rollout and promote");
            words = [.. words.Where(w => w != "--force")];
        }
        try
        {
            return words[0] switch
            {
                "status" => Expect(words, 1, "status") ?? Status(),
                "stats" => Stats(words),
                "events" => Events(words),
                "history" => History(words),
                "swap" => Expect(words, 3, "swap SERVICE POOL [--force]") ?? Changed(runtime.Controller.Swap(words[1], words[2], force)),
                "split" => words.Length < 3 ? Error("usage: split SERVICE POOL=PCT [POOL=PCT...] [--force] (percentages adding up to 100)") : Changed(runtime.Controller.Split(words[1], ParseShares(words), force)),
                "rollback" => Expect(words, 2, "rollback SERVICE") ?? Changed(runtime.Controller.Rollback(words[1])),
                "rollout" => words.Length < 3 ? Error(RolloutOptions.Usage) : Changed(runtime.Controller.StartRollout(words[1], words[2], RolloutOptions.Parse(words, 3), force)),
                "rollout-status" => Expect(words, 2, "rollout-status SERVICE") ?? Json(w =>
                {
                    w.WriteBoolean("ok", true);
                    runtime.Controller.WriteRolloutStatus(w, words[1]);
                }),
                "pause" => Expect(words, 2, "pause SERVICE") ?? Changed(runtime.Controller.PauseRollout(words[1])),
                "resume" => Expect(words, 2, "resume SERVICE") ?? Changed(runtime.Controller.ResumeRollout(words[1])),
                "promote" => Expect(words, 2, "promote SERVICE [--force]") ?? Changed(runtime.Controller.PromoteRollout(words[1], force)),
                "abort" => Expect(words, 2, "abort SERVICE") ?? Changed(runtime.Controller.AbortRollout(words[1])),
                "weight" => Expect(words, 5, "weight SERVICE POOL ADDRESS W") ?? Changed(runtime.Controller.SetWeight(words[1], words[2], words[3], ParseInt(words[4], "weight"))),
                "drain" => Expect(words, 4, "drain SERVICE POOL ADDRESS") ?? Changed(runtime.Controller.Drain(words[1], words[2], words[3])),
                "enable" => Expect(words, 4, "enable SERVICE POOL ADDRESS") ?? Changed(runtime.Controller.Enable(words[1], words[2], words[3])),
                "reload" => Expect(words, 1, "reload") ?? Reloaded(await runtime.ReloadAsync().ConfigureAwait(false)),
                "reopen-logs" => Expect(words, 1, "reopen-logs") ?? ReopenLogs(),
                "upgrade" => await UpgradeAsync(words).ConfigureAwait(false),
                _ => Error($"unknown command '{words[0]}'; commands are: {Commands}"),
            };
        }
        catch (TrafficException e)
        {
            return Error(e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug must not leave the operator without an answer or take the control socket down.
            FastLb.Core.Diagnostics.Log.Error($"control command '{line}' failed: {e}");
            return Error($"internal error running '{words[0]}': {e.Message}");
        }
    }

    private async Task<string> UpgradeAsync(string[] words)
    {
        string? binary = null;
        if (words.Length == 3 && words[1] == "--binary") binary = words[2];
        else if (words.Length != 1) return Error("usage: upgrade [--binary PATH]");
        if (binary is not null && !Path.IsPathRooted(binary)) return Error($"--binary needs an absolute path, got '{binary}'");
        var result = await runtime.UpgradeAsync(binary).ConfigureAwait(false);
        return Json(w =>
        {
            w.WriteBoolean("ok", result.Ok);
            if (result.Error is not null) w.WriteString("error", $"upgrade failed; pid {Environment.ProcessId} keeps serving: {result.Error}");
            w.WriteNumber("old_pid", Environment.ProcessId);
            if (result.NewPid != 0) w.WriteNumber("new_pid", result.NewPid);
            else w.WriteNull("new_pid");
            w.WriteNumber("ready_ms", Math.Round(result.ReadyAfter.TotalMilliseconds, 1));
            w.WriteStartArray("listeners");
            foreach (var l in result.Listeners) w.WriteStringValue(l);
            w.WriteEndArray();
            if (result.Ok) w.WriteString("message", $"pid {result.NewPid} accepts on {result.Listeners.Count} listener(s) after {result.ReadyAfter.TotalMilliseconds:0} ms; pid {Environment.ProcessId} drains and exits");
        });
    }

    private string ReopenLogs()
    {
        runtime.ReopenLogs("ctl reopen-logs");
        return Json(w =>
        {
            w.WriteBoolean("ok", true);
            w.WriteString("message", "access logs reopen before their next write");
        });
    }

    public static string Error(string message) => Json(w =>
    {
        w.WriteBoolean("ok", false);
        w.WriteString("error", message);
    });

    private static string? Expect(string[] words, int count, string usage) =>
        words.Length == count ? null : Error($"usage: {usage}");

    private static List<KeyValuePair<string, int>> ParseShares(string[] words)
    {
        var shares = new List<KeyValuePair<string, int>>();
        for (var i = 2; i < words.Length; i++)
        {
            var eq = words[i].IndexOf('=');
            if (eq <= 0) throw new TrafficException($"'{words[i]}' is not POOL=W (e.g. blue=90)");
            shares.Add(new(words[i][..eq], ParseInt(words[i][(eq + 1)..], $"share of '{words[i][..eq]}'")));
        }
        return shares;
    }

    private static int ParseInt(string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new TrafficException($"{what} must be a whole number, got '{text}'");

    /// <summary>The status reply (docs/control.md): also served read-only by the admin HTTP endpoint.</summary>
    public string Status() => Json(w =>
    {
        w.WriteBoolean("ok", true);
        w.WriteNumber("pid", Environment.ProcessId);
        runtime.Controller.WriteStatus(w);
        w.WriteStartArray("listeners");
        var config = runtime.Router.Current.Config;
        foreach (var l in runtime.Proxy.Listeners)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteString("bind", l.EndPoint.ToString());
            w.WriteString("protocol", l.Protocol.ToString().ToLowerInvariant());
            WriteListenerFigures(w, runtime.Proxy.ListenerTraffic.GetOrAdd(l.Name), config.Listeners.FirstOrDefault(c => c.Name == l.Name));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("live_connections", runtime.Proxy.LiveConnections);
        WriteConnectionLimits(w, runtime);
        WriteProcess(w, runtime);
        var io = runtime.Proxy.Loops.Io;
        w.WriteStartObject("io");
        w.WriteString("transport", io.Name);
        w.WriteString("setting", FastLb.Core.Config.IoModeNames.Name(io.Requested));
        w.WriteString("reason", io.Reason);
        w.WriteEndObject();
    });

    /// <summary>A listener's rejections (PROXY header, passthrough ClientHello) and, when it terminates TLS, its certificates and handshakes (docs/control.md).</summary>
    private static void WriteListenerFigures(Utf8JsonWriter w, ListenerTraffic traffic, ListenerConfig? config)
    {
        w.WriteNumber("proxy_header_rejected", traffic.RejectedProxyHeaders);
        w.WriteNumber("client_hello_rejected", traffic.RejectedClientHellos);
        if (config?.Tls is not { } tls) return;
        var now = DateTimeOffset.UtcNow;
        w.WriteStartObject("tls");
        w.WriteStartArray("certificates");
        foreach (var c in tls.Certificates)
        {
            w.WriteStartObject();
            w.WriteString("file", c.Path);
            w.WriteStartArray("names");
            foreach (var n in c.Names) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteString("not_after", c.NotAfter.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            w.WriteNumber("expires_in_seconds", (long)(c.NotAfter - now).TotalSeconds);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("handshakes", traffic.TlsHandshakes);
        w.WriteStartObject("handshake_failures");
        for (var r = 0; r < TlsHandshakeFailures.Count; r++)
        {
            w.WriteNumber(TlsHandshakeFailures.Name((TlsHandshakeFailure)r), traffic.TlsHandshakeFailuresFor((TlsHandshakeFailure)r));
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>max_connections, refusals and the descriptor budget (docs/control.md).</summary>
    private static void WriteConnectionLimits(Utf8JsonWriter w, FastLbRuntime runtime)
    {
        var proxy = runtime.Proxy;
        w.WriteStartObject("connections");
        w.WriteNumber("current", proxy.LiveConnections);
        if (proxy.MaxConnections == int.MaxValue) w.WriteNull("limit");
        else w.WriteNumber("limit", proxy.MaxConnections);
        w.WriteNumber("refused", proxy.RefusedConnections);
        w.WriteNumber("parked", proxy.ParkedConnections);
        w.WriteEndObject();
        var budget = FastLb.Proxy.Transport.DescriptorBudget.Process;
        w.WriteStartObject("descriptors");
        if (runtime.Descriptors is { } plan)
        {
            w.WriteNumber("limit", plan.Limit);
            w.WriteNumber("reserve", plan.Reserve);
            w.WriteNumber("budget", plan.Budget);
        }
        w.WriteNumber("held", budget.Held);
        w.WriteNumber("refused", budget.Refused);
        w.WriteStartObject("exhausted");
        w.WriteNumber("accept", FastLb.Proxy.Transport.Exhaustion.Accept.Total);
        w.WriteNumber("connect", FastLb.Proxy.Transport.Exhaustion.Connect.Total);
        w.WriteNumber("pipe", FastLb.Proxy.Transport.Exhaustion.Pipe.Total);
        w.WriteNumber("epoll", FastLb.Proxy.Transport.Exhaustion.Epoll.Total);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Process figures an operator (and the load harness) reads: generation, memory, GC counts, allocated bytes.</summary>
    private static void WriteProcess(Utf8JsonWriter w, FastLbRuntime runtime)
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        w.WriteStartObject("process");
        runtime.Generation.Write(w);
        w.WriteBoolean("upgrade_in_progress", runtime.UpgradeInProgress);
        w.WriteNumber("rss_bytes", self.WorkingSet64);
        w.WriteNumber("managed_heap_bytes", GC.GetTotalMemory(forceFullCollection: false));
        w.WriteNumber("allocated_bytes", GC.GetTotalAllocatedBytes(precise: false));
        w.WriteNumber("gc_gen0", GC.CollectionCount(0));
        w.WriteNumber("gc_gen1", GC.CollectionCount(1));
        w.WriteNumber("gc_gen2", GC.CollectionCount(2));
        w.WriteNumber("threads", self.Threads.Count);
        w.WriteNumber("uptime_seconds", (long)(DateTime.Now - self.StartTime).TotalSeconds);
        w.WriteEndObject();
    }

    /// <summary><c>events [--since SEQ] [--limit N]</c>: the recent event log, oldest first.</summary>
    public string Events(string[] words)
    {
        const string usage = "usage: events [--since SEQ] [--limit N] (at most 1000)";
        long since = 0;
        var limit = FastLb.Core.Diagnostics.EventLog.Capacity;
        for (var i = 1; i < words.Length; i++)
        {
            if (words[i] == "--since" && i + 1 < words.Length && long.TryParse(words[++i], NumberStyles.None, CultureInfo.InvariantCulture, out since)) continue;
            if (words[i] == "--limit" && i + 1 < words.Length && int.TryParse(words[++i], NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit > 0) continue;
            return Error($"bad argument '{words[i]}'; {usage}");
        }
        return Json(w =>
        {
            w.WriteBoolean("ok", true);
            runtime.Controller.Events.WriteJson(w, since, limit);
        });
    }

    /// <summary>
    /// <c>history [--since SECOND]</c>: requests and errors per second of every pool and backend, oldest first, for
    /// the seconds after <c>SECOND</c> (Unix time) up to the last closed second, at most the last 300. The dashboard
    /// reads all 5 minutes once, then only the seconds since its last read.
    /// </summary>
    public string History(string[] words)
    {
        const string usage = "usage: history [--since UNIX_SECOND] (at most the last 300 seconds)";
        long since = 0;
        for (var i = 1; i < words.Length; i++)
        {
            if (words[i] == "--since" && i + 1 < words.Length && long.TryParse(words[++i], NumberStyles.None, CultureInfo.InvariantCulture, out since)) continue;
            return Error($"bad argument '{words[i]}'; {usage}");
        }
        var stats = runtime.Controller.Stats;
        var end = stats.LastClosedSecond;
        var seconds = end < 0 ? 0 : (int)Math.Clamp(end - since, 0, TrafficWindow.HistorySeconds);
        return Json(w =>
        {
            w.WriteBoolean("ok", true);
            w.WriteNumber("end_second", Math.Max(0, end));
            w.WriteNumber("seconds", seconds);
            w.WriteStartObject("services");
            foreach (var (name, service) in runtime.Router.Current.Services)
            {
                w.WriteStartObject(name);
                w.WriteStartObject("pools");
                foreach (var pool in service.Pools)
                {
                    w.WriteStartObject(pool.Name);
                    WriteHistory(w, stats.History(name, pool.Name, seconds, end));
                    w.WriteStartObject("backends");
                    foreach (var b in pool.Backends)
                    {
                        w.WriteStartObject(b.Address);
                        WriteHistory(w, stats.History(b.State, seconds, end));
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    private static void WriteHistory(Utf8JsonWriter w, TrafficHistory history)
    {
        w.WriteStartArray("requests");
        foreach (var n in history.Requests) w.WriteNumberValue(n);
        w.WriteEndArray();
        w.WriteStartArray("errors");
        foreach (var n in history.Errors) w.WriteNumberValue(n);
        w.WriteEndArray();
    }

    /// <summary><c>stats SERVICE [POOL] [--window 30s]</c>: each pool's (and backend's) traffic over the window.</summary>
    private string Stats(string[] words)
    {
        const string usage = "usage: stats SERVICE [POOL] [--window 10s] (window 1s-60s)";
        var seconds = TrafficStats.DefaultWindowSeconds;
        var positional = new List<string>();
        for (var i = 1; i < words.Length; i++)
        {
            if (words[i] is "--window" or "-w")
            {
                if (i + 1 >= words.Length || !ConfigDuration.TryParse(words[++i], out var window) || window < TimeSpan.FromSeconds(1) || window > TimeSpan.FromSeconds(TrafficWindow.Seconds))
                {
                    return Error($"--window takes a duration from 1s to 60s (e.g. 30s); {usage}");
                }
                seconds = (int)window.TotalSeconds;
            }
            else if (words[i].StartsWith('-'))
            {
                return Error($"unknown option '{words[i]}'; {usage}");
            }
            else
            {
                positional.Add(words[i]);
            }
        }
        if (positional.Count is < 1 or > 2) return Error(usage);
        var service = runtime.Router.Current.FindService(positional[0])
            ?? throw new TrafficException($"unknown service '{positional[0]}'; services are: {string.Join(", ", runtime.Router.Current.Services.Keys)}");
        var pools = service.Pools.Where(p => positional.Count == 1 || p.Name == positional[1]).ToList();
        if (pools.Count == 0)
        {
            throw new TrafficException($"unknown pool '{positional[1]}' in service '{service.Config.Name}'; pools are: {string.Join(", ", service.Pools.Select(p => p.Name))}");
        }
        var stats = runtime.Controller.Stats;
        return Json(w =>
        {
            w.WriteBoolean("ok", true);
            w.WriteString("service", service.Config.Name);
            w.WriteNumber("window_seconds", seconds);
            w.WriteStartObject("pools");
            foreach (var pool in pools)
            {
                w.WriteStartObject(pool.Name);
                TrafficSummaryJson.WriteFull(w, stats.Pool(service.Config.Name, pool.Name, seconds));
                w.WriteStartArray("backends");
                foreach (var b in pool.Backends)
                {
                    w.WriteStartObject();
                    w.WriteString("address", b.Address);
                    TrafficSummaryJson.WriteFull(w, stats.Backend(b.State, seconds));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    private static string Changed(ChangeResult result) => Json(w =>
    {
        w.WriteBoolean("ok", true);
        w.WriteNumber("generation", result.Generation);
        w.WriteBoolean("changed", result.Changed);
        w.WriteString("message", result.Summary);
        w.WriteStartArray("warnings");
        foreach (var warning in result.Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
    });

    private static string Reloaded(ReloadResult result) => Json(w =>
    {
        w.WriteBoolean("ok", result.Ok);
        w.WriteNumber("generation", result.Generation);
        if (!result.Ok) w.WriteString("error", $"reload failed; keeping generation {result.Generation}: " + string.Join("; ", result.Errors));
        w.WriteStartArray("errors");
        foreach (var e in result.Errors) w.WriteStringValue(e);
        w.WriteEndArray();
        w.WriteStartArray("warnings");
        foreach (var e in result.Warnings) w.WriteStringValue(e);
        w.WriteEndArray();
    });

    private static string Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
