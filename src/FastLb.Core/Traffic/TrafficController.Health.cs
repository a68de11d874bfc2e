using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    /// <summary>Slow-start ramps republish the table at most this often (health changes publish at once).</summary>
    internal static readonly TimeSpan RampPublishInterval = TimeSpan.FromMilliseconds(250);

    private DateTimeOffset _lastRampPublish;

    /// <summary>
    /// Brings the routing table's health view up to date: ends ejections whose time is up, logs new ejections, and
    /// republishes when a backend's availability changed (at once) or a slow-start ramp moved (at most every
    /// <see cref="RampPublishInterval"/>). Called from <see cref="Tick"/>; health changes reach the data plane only
    /// through a published table, so a pick always sees backends, weights and health of one generation.
    /// </summary>
    public void RefreshHealth()
    {
        lock (_writeLock)
        {
            if (_config is null) return;
            var now = time.GetUtcNow();
            var table = Router.Current;
            List<string>? changes = null; // most ticks change nothing: allocate only when something does
            var ramped = false;
            foreach (var (name, service) in table.Services)
            {
                foreach (var pool in service.Pools)
                {
                    foreach (var b in pool.Backends)
                    {
                        var health = b.State.Health;
                        if (health.EndEjection(now))
                        {
                            Log.Info($"health {name}/{pool.Name} {b.Address} returns from ejection (ejected {health.Ejections} time(s))");
                        }
                        var label = health.StateAt(now);
                        if (label != b.Health)
                        {
                            if (label == BackendHealthState.Ejected)
                            {
                                var until = health.EjectedUntil ?? now;
                                var why = health.LastFailure == BackendHealth.RetryAfterReason
                                    ? $"it answered {BackendHealth.RetryAfterReason} (ejection #{health.Ejections})"
                                    : $"{service.Config.Outlier?.ConsecutiveFailures} failures in a row (last: {health.LastFailure ?? "failure"}; ejection #{health.Ejections})";
                                Log.Warn($"health {name}/{pool.Name} {b.Address} ejected for {(until - now).TotalSeconds:0.#}s: {why}");
                            }
                            // Availability follows the label (check state, initial_state, ejection), so this covers it.
                            (changes ??= []).Add($"{name}/{pool.Name}/{b.Address} {Label(b.Health)}->{Label(label)}");
                            Events.Append("health", $"{name}/{pool.Name}/{b.Address} {Label(b.Health)} -> {Label(label)}", name, pool.Name,
                                ok: label is BackendHealthState.Healthy);
                            continue;
                        }
                        if (service.Config.Balance != BalanceKind.Hash && b.Routable
                            && health.RampFactor(now, service.Config.SlowStart) != b.RampFactor)
                        {
                            ramped = true;
                        }
                    }
                }
            }
            if (changes is not null)
            {
                Publish("health " + string.Join(", ", changes));
                _lastRampPublish = now;
            }
            else if (ramped && now - _lastRampPublish >= RampPublishInterval)
            {
                Publish("slow start", quiet: true);
                _lastRampPublish = now;
            }
        }
    }

    /// <summary>Logs pools entering or leaving panic between two generations; caller holds the write lock.</summary>
    private void LogPanicChanges(RoutingTable old, RoutingTable next)
    {
        foreach (var (name, service) in next.Services)
        {
            var oldService = old.FindService(name);
            foreach (var pool in service.Pools)
            {
                var was = oldService?.FindPool(pool.Name)?.Panic ?? false;
                if (pool.Panic == was) continue;
                if (pool.Panic)
                {
                    Log.Warn($"panic {name}/{pool.Name}: {pool.HealthyCount} of {pool.WeightedCount} backends healthy, below panic_threshold {service.Config.PanicThreshold}%: health ignored, every backend takes traffic");
                    Events.Append("health", $"panic {name}/{pool.Name}: {pool.HealthyCount} of {pool.WeightedCount} healthy; health ignored", name, pool.Name, ok: false);
                }
                else
                {
                    Log.Info($"panic over {name}/{pool.Name}: {pool.HealthyCount} of {pool.WeightedCount} backends healthy");
                    Events.Append("health", $"panic over {name}/{pool.Name}: {pool.HealthyCount} of {pool.WeightedCount} healthy", name, pool.Name);
                }
            }
        }
    }

    /// <summary>
    /// The release gate for a pool about to gain traffic: null when it may, else why not (naming the backends that
    /// are not healthy). Refused when no backend is healthy, or, with a health check configured, when fewer than
    /// min_healthy_percent of its backends are.
    /// </summary>
    internal string? GateVerdict(string service, string pool)
    {
        var snapshot = Router.Current.FindService(service);
        var p = snapshot?.FindPool(pool);
        if (snapshot is null || p is null) return null;
        var config = snapshot.Config;
        var poolConfig = config.FindPool(pool);
        var checkedPool = poolConfig is not null && config.CheckFor(poolConfig) is not null;
        var weighted = p.WeightedCount;
        var healthy = p.HealthyCount;
        string? reason = null;
        if (healthy == 0) reason = $"{pool} has no healthy backend ({healthy} of {weighted})";
        else if (checkedPool && (long)healthy * 100 < (long)weighted * config.MinHealthyPercent)
        {
            reason = $"{pool} has {healthy} of {weighted} backends healthy, below min_healthy_percent {config.MinHealthyPercent}%";
        }
        if (reason is null) return null;
        var sb = new StringBuilder(reason);
        var first = true;
        foreach (var b in p.Backends)
        {
            if (b.Weight == 0 || b.Health == BackendHealthState.Healthy) continue;
            sb.Append(first ? ": " : ", ").Append(b.Address).Append(' ').Append(Label(b.Health));
            var last = b.State.Health.LastCheck;
            if (b.Health == BackendHealthState.Ejected) sb.Append(" (").Append(b.State.Health.LastFailure ?? "failures").Append(')');
            else if (last is { Passed: false } l) sb.Append(" (").Append(l.Describe()).Append(')');
            first = false;
        }
        return sb.ToString();
    }

    /// <summary>Applies the gate to every pool that gains share from <paramref name="current"/> to <paramref name="next"/>; throws when refused and not forced.</summary>
    private List<string> CheckGate(string service, string verb, IReadOnlyDictionary<string, int> current, IReadOnlyDictionary<string, int> next, bool force)
    {
        RefreshHealth(); // judge by the latest checks, not the last tick's table
        var verdicts = new List<string>();
        foreach (var (pool, share) in next)
        {
            if (share == 0 || share <= Percentish(current, pool, next)) continue;
            if (GateVerdict(service, pool) is { } verdict) verdicts.Add(verdict);
        }
        if (verdicts.Count == 0) return verdicts;
        var text = string.Join("; ", verdicts);
        if (!force) throw new TrafficException($"{verb} refused by the release gate: {text}; fix the pool or add --force");
        Log.Warn($"{verb} forced past the release gate: {text}");
        return [$"forced past the release gate: {text}"];
    }

    /// <summary>A pool gains traffic when its share of the total grows; compare as fractions of each assignment's total.</summary>
    private static int Percentish(IReadOnlyDictionary<string, int> current, string pool, IReadOnlyDictionary<string, int> next)
    {
        long curTotal = 0, nextTotal = 0;
        foreach (var v in current.Values) curTotal += v;
        foreach (var v in next.Values) nextTotal += v;
        var cur = current.GetValueOrDefault(pool);
        if (curTotal == 0 || nextTotal == 0) return cur;
        // Scale the current share onto the next total, so "gains" means a larger fraction of the traffic.
        return (int)Math.Min(int.MaxValue, cur * nextTotal / curTotal);
    }

    /// <summary>Warnings for a rollback that returns traffic to a pool the gate would refuse (rollback itself is never refused).</summary>
    private List<string> RollbackWarnings(string service, IReadOnlyDictionary<string, int> current, IReadOnlyDictionary<string, int> next)
    {
        RefreshHealth();
        var warnings = new List<string>();
        foreach (var (pool, share) in next)
        {
            if (share == 0 || share <= Percentish(current, pool, next)) continue;
            if (GateVerdict(service, pool) is { } verdict) warnings.Add($"rolled back to an unhealthy pool: {verdict}");
        }
        foreach (var w in warnings) Log.Warn($"rollback {service}: {w}");
        return warnings;
    }

    internal static string Label(BackendHealthState state) => state switch
    {
        BackendHealthState.Healthy => "healthy",
        BackendHealthState.Unhealthy => "unhealthy",
        BackendHealthState.Ejected => "ejected",
        _ => "unknown",
    };
}
