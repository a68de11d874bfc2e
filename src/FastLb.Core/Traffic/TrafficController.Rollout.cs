using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Rollout;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    // Per service: the rollout running now or the last one (status shows its verdicts), and totals for /metrics.
    private readonly Dictionary<string, RolloutRun> _rollouts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Started, long Completed, long RolledBack)> _rolloutTotals = new(StringComparer.Ordinal);
    // Set while an upgrade hands the rollouts to a new process, and for good once it took them: one process judges.
    private bool _rolloutsFrozen;

    /// <summary>
    /// Stops (or resumes) judging rollouts: an upgrade freezes them before it writes the state, so the new process
    /// continues from exactly what it was handed, and thaws them when the upgrade failed.
    /// </summary>
    public void FreezeRollouts(bool frozen)
    {
        lock (_writeLock) _rolloutsFrozen = frozen;
    }

    /// <summary>
    /// Starts a progressive rollout of <paramref name="service"/> to <paramref name="toPool"/>: the first step's share
    /// goes live at once (the release gate applies, as for a swap), and every tick judges it (<see cref="AdvanceRollouts"/>).
    /// </summary>
    public ChangeResult StartRollout(string service, string toPool, RolloutConfig config, bool force = false)
    {
        lock (_writeLock) return StartRolloutLocked(service, toPool, config, force, fromFile: false, previous: null);
    }

    /// <summary>Holds the current step's share; nothing is judged until <see cref="ResumeRollout"/>.</summary>
    public ChangeResult PauseRollout(string service)
    {
        lock (_writeLock)
        {
            var run = RequireRollout(service);
            return ApplyRollout(run, run.Engine.Pause(time.GetUtcNow()));
        }
    }

    /// <summary>Continues a paused rollout; the current step is measured afresh.</summary>
    public ChangeResult ResumeRollout(string service)
    {
        lock (_writeLock)
        {
            var run = RequireRollout(service);
            return ApplyRollout(run, run.Engine.Resume(SampleOf(run.Engine)));
        }
    }

    /// <summary>Moves the rollout to its next step now (through a manual gate, or past the step being measured).</summary>
    public ChangeResult PromoteRollout(string service, bool force = false)
    {
        lock (_writeLock)
        {
            var run = RequireRollout(service);
            var e = run.Engine;
            var next = e.GateIndex >= 0 ? e.Config.Steps[e.GateIndex] : e.StepIndex + 1 < e.Config.Steps.Count ? e.Config.Steps[e.StepIndex + 1] : 100;
            var warnings = CheckGate(service, $"promote {service} to {next}%", RequireService(service).Current, StepShares(service, e, next), force);
            return ApplyRollout(run, e.Promote(SampleOf(e))) with { Warnings = warnings };
        }
    }

    /// <summary>Rolls the rollout back now.</summary>
    public ChangeResult AbortRollout(string service)
    {
        lock (_writeLock)
        {
            var run = RequireRollout(service);
            return ApplyRollout(run, run.Engine.Abort(SampleOf(run.Engine)));
        }
    }

    /// <summary>The rollout running now for <paramref name="service"/>, or the last one; null when there was none.</summary>
    public RolloutEngine? RolloutOf(string service)
    {
        lock (_writeLock) return _rollouts.TryGetValue(service, out var run) ? run.Engine : null;
    }

    /// <summary>Every service's current or last rollout with the totals since start, for /metrics.</summary>
    public List<RolloutFigures> RolloutFigures()
    {
        lock (_writeLock)
        {
            var result = new List<RolloutFigures>();
            foreach (var (service, totals) in _rolloutTotals)
            {
                if (!_rollouts.TryGetValue(service, out var run)) continue;
                var e = run.Engine;
                result.Add(new RolloutFigures(service, e.ToPool, RolloutEngine.Describe(e.Phase), e.IsActive, e.Share, e.StepIndex + 1,
                    totals.Started, totals.Completed, totals.RolledBack));
            }
            return result;
        }
    }

    /// <summary>Judges every running rollout against its pools' counters now and applies what the engine decides. Called from <see cref="Tick"/>.</summary>
    private void AdvanceRollouts()
    {
        lock (_writeLock)
        {
            if (_rollouts.Count == 0 || _rolloutsFrozen) return;
            foreach (var run in _rollouts.Values.ToList())
            {
                if (run.Engine.Phase != RolloutPhase.Running) continue;
                ApplyRollout(run, run.Engine.Evaluate(SampleOf(run.Engine)));
            }
        }
    }

    private ChangeResult StartRolloutLocked(string service, string toPool, RolloutConfig config, bool force, bool fromFile, Dictionary<string, int>? previous)
    {
        var serviceConfig = RequireServiceConfig(service);
        RequirePool(serviceConfig, toPool);
        var t = RequireService(service);
        if (_rollouts.TryGetValue(service, out var running) && running.Engine.IsActive)
        {
            throw new TrafficException($"a rollout of {service} to {running.Engine.ToPool} is {RolloutEngine.Describe(running.Engine.Phase)}; abort it first (ctl abort {service})");
        }
        if (RolloutValues.CheckSteps(config.Steps, config.PreviewMirror) is { } stepError) throw new TrafficException(stepError);
        if (config.PreviewMirror && !MirroredTo(service, toPool))
        {
            throw new TrafficException($"preview_mirror judges {toPool} on mirrored copies, but no route mirrors to {service}/{toPool}; add mirror: {{ service: {service}, pool: {toPool} }} to a route");
        }
        if (RolloutValues.CheckGates(config.ManualGates, config.Steps) is { } gateError) throw new TrafficException(gateError);
        var before = previous ?? new Dictionary<string, int>(t.Current);
        var baseline = BaselineOf(before, toPool)
            ?? throw new TrafficException($"{toPool} already has all of {service}'s traffic; a rollout needs another pool to move traffic from");
        var engine = new RolloutEngine(service, baseline, toPool, config, time.GetUtcNow());
        var firstShare = config.ManualGates.Contains(config.Steps[0]) ? 0 : config.Steps[0];
        var warnings = firstShare == 0 ? [] : CheckGate(service, $"rollout {service} {toPool}", t.Current, StepShares(service, engine, firstShare), force);
        var run = new RolloutRun(engine, before, fromFile);
        _rollouts[service] = run;
        var totals = _rolloutTotals.GetValueOrDefault(service);
        _rolloutTotals[service] = (totals.Started + 1, totals.Completed, totals.RolledBack);
        if (previous is null) t.PushHistory(); // one history entry for the whole rollout: rollback after it returns to before it
        var started = $"rollout {service} {toPool} started from {baseline} ({(fromFile ? "file" : "ctl")}{(warnings.Count > 0 ? ", forced" : "")}): {config.Describe()}";
        Log.Info(started);
        Events.Append("rollout", started, service, toPool, Router.Current.Generation);
        var result = ApplyRollout(run, engine.Begin(SampleOf(engine)));
        return result with { Summary = started + (result.Changed ? $"; {toPool} at {engine.Share}%" : $"; {toPool} waits at the manual gate"), Warnings = warnings };
    }

    /// <summary>Carries out an engine decision: a new generation for a share change, completion or rollback; a log line and an event for each.</summary>
    private ChangeResult ApplyRollout(RolloutRun run, RolloutDecision decision)
    {
        var e = run.Engine;
        var t = RequireService(e.Service);
        switch (decision.Action)
        {
            case RolloutAction.SetShare:
            {
                t.Current = StepShares(e.Service, e, decision.Share);
                t.Source = AssignmentSource.Runtime;
                var result = Publish(decision.Message!);
                Events.Append("rollout", decision.Message!, e.Service, e.ToPool, result.Generation);
                return result;
            }
            case RolloutAction.Complete:
            {
                t.Current = StepShares(e.Service, e, 100);
                t.Source = Shares.SameAs(t.Current, t.FileShares) ? AssignmentSource.File : AssignmentSource.Runtime;
                var result = Publish(decision.Message!);
                Events.Append("rollout", decision.Message!, e.Service, e.ToPool, result.Generation);
                Count(e.Service, completed: 1);
                return result;
            }
            case RolloutAction.RollBack:
            {
                t.Current = new Dictionary<string, int>(run.Previous);
                t.Source = Shares.SameAs(t.Current, t.FileShares) ? AssignmentSource.File : AssignmentSource.Runtime;
                if (t.Previous is { } top && Shares.SameAs(top, run.Previous)) t.PopHistory(); // the rollout's own entry
                Log.Warn(decision.Message!);
                var result = Publish($"{decision.Message}; {e.Service} back to {Shares.Describe(t.Current)}", quiet: true);
                Events.Append("rollout", decision.Message!, e.Service, e.ToPool, result.Generation, ok: false);
                Count(e.Service, rolledBack: 1);
                return result with { Summary = decision.Message! };
            }
            default:
                if (decision.Message is { } message)
                {
                    Log.Info(message);
                    Events.Append("rollout", message, e.Service, e.ToPool, Router.Current.Generation, ok: e.Phase != RolloutPhase.Paused || e.Verdicts.Count == 0 || e.Verdicts[^1].Outcome != StepOutcome.Inconclusive);
                }
                return new ChangeResult(Router.Current.Generation, false, decision.Message ?? $"rollout {e.Service} {e.ToPool} {RolloutEngine.Describe(e.Phase)}");
        }
    }

    private void Count(string service, long completed = 0, long rolledBack = 0)
    {
        var totals = _rolloutTotals.GetValueOrDefault(service);
        _rolloutTotals[service] = (totals.Started, totals.Completed + completed, totals.RolledBack + rolledBack);
    }

    /// <summary>Ends a running rollout because another change takes the service over (the change itself sets the traffic).</summary>
    private void CancelRollout(string service, string reason)
    {
        if (!_rollouts.TryGetValue(service, out var run) || !run.Engine.IsActive) return;
        run.Engine.Cancel(time.GetUtcNow(), reason);
        Log.Warn(run.Engine.Outcome!);
        Events.Append("rollout", run.Engine.Outcome!, service, run.Engine.ToPool, Router.Current.Generation, ok: false);
    }

    /// <summary>Whether a route of the running config copies requests to <paramref name="service"/>/<paramref name="pool"/>.</summary>
    private bool MirroredTo(string service, string pool) =>
        _config?.Listeners.Any(l => l.Routes.Any(r => r.Mirror is { } m && m.Service == service && m.Pool == pool)) == true;

    /// <summary>The step's assignment: the new pool <paramref name="share"/> percent, the baseline the rest, other pools none.</summary>
    private Dictionary<string, int> StepShares(string service, RolloutEngine e, int share)
    {
        var shares = new Dictionary<string, int>();
        foreach (var p in RequireServiceConfig(service).Pools) shares[p.Name] = 0;
        shares[e.ToPool] = share;
        shares[e.BaselinePool] = 100 - share;
        return shares;
    }

    /// <summary>The pool with the largest share other than <paramref name="toPool"/>, or null when no other pool has any.</summary>
    private static string? BaselineOf(IReadOnlyDictionary<string, int> shares, string toPool)
    {
        string? best = null;
        var bestShare = 0;
        foreach (var (pool, share) in shares)
        {
            if (pool == toPool || share <= bestShare) continue;
            best = pool;
            bestShare = share;
        }
        return best;
    }

    private RolloutSample SampleOf(RolloutEngine e) => SampleOf(e.Service, e.ToPool, e.BaselinePool);

    private RolloutSample SampleOf(string service, string toPool, string baselinePool) =>
        new(time.GetUtcNow(), Stats.Totals(service, toPool), Stats.Totals(service, baselinePool), UnhealthyIn(service, toPool));

    /// <summary>The "rollouts" member of the upgrade state: each active rollout (engine, assignment to roll back to, source) and the totals.</summary>
    private void ExportRollouts(Utf8JsonWriter w)
    {
        w.WriteStartObject("rollouts");
        foreach (var (service, run) in _rollouts)
        {
            if (!run.Engine.IsActive) continue;
            w.WriteStartObject(service);
            run.Engine.WriteState(w, SampleOf(run.Engine));
            WriteRawShares(w, "previous", run.Previous);
            w.WriteBoolean("from_file", run.FromFile);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartObject("rollout_totals");
        foreach (var (service, totals) in _rolloutTotals)
        {
            w.WriteStartObject(service);
            w.WriteNumber("started", totals.Started);
            w.WriteNumber("completed", totals.Completed);
            w.WriteNumber("rolled_back", totals.RolledBack);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>
    /// Takes over the rollouts another process was running, for the services whose assignment was taken over
    /// (<paramref name="carried"/>): each continues at its step, its window on the same clock. One that cannot be
    /// read, or names a pool the file no longer has, is dropped with a line in <paramref name="taken"/>.
    /// </summary>
    private void ImportRollouts(JsonElement state, HashSet<string> carried, List<string> taken)
    {
        if (state.TryGetProperty("rollout_totals", out var totals))
        {
            foreach (var t in totals.EnumerateObject())
            {
                if (!_traffic.ContainsKey(t.Name)) continue;
                _rolloutTotals[t.Name] = (t.Value.GetProperty("started").GetInt64(), t.Value.GetProperty("completed").GetInt64(), t.Value.GetProperty("rolled_back").GetInt64());
            }
        }
        if (!state.TryGetProperty("rollouts", out var rollouts)) return;
        foreach (var r in rollouts.EnumerateObject())
        {
            var pool = r.Value.GetProperty("pool").GetString() ?? "";
            if (!carried.Contains(r.Name))
            {
                taken.Add($"rollout {r.Name} {pool} not continued: the file changed the service's traffic settings");
                continue;
            }
            try
            {
                var baseline = r.Value.GetProperty("baseline").GetString() ?? "";
                var pools = RequireServiceConfig(r.Name).Pools;
                if (!pools.Any(p => p.Name == pool) || !pools.Any(p => p.Name == baseline)) throw new FormatException($"pool {pool} or {baseline} is not in the file");
                var engine = RolloutEngine.ReadState(r.Name, r.Value, SampleOf(r.Name, pool, baseline));
                _rollouts[r.Name] = new RolloutRun(engine, ReadShares(r.Value.GetProperty("previous")), r.Value.GetProperty("from_file").GetBoolean());
                if (!_rolloutTotals.ContainsKey(r.Name)) _rolloutTotals[r.Name] = (1, 0, 0);
                taken.Add($"rollout {r.Name} {pool} {RolloutEngine.Describe(engine.Phase)} at step {engine.Share}% ({engine.StepIndex + 1} of {engine.Config.Steps.Count})");
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or KeyNotFoundException or TrafficException)
            {
                taken.Add($"rollout {r.Name} {pool} not continued: {e.Message}");
            }
        }
    }

    /// <summary>"green backend 10.0.1.1:80 ejected, 10.0.1.2:80 unhealthy", or null while every weighted backend of the pool is fine.</summary>
    private string? UnhealthyIn(string service, string pool)
    {
        var p = Router.Current.FindService(service)?.FindPool(pool);
        if (p is null) return null;
        var now = time.GetUtcNow();
        List<string>? bad = null;
        foreach (var b in p.Backends)
        {
            if (b.Weight == 0) continue;
            var state = b.State.Health.StateAt(now);
            if (state is BackendHealthState.Unhealthy or BackendHealthState.Ejected) (bad ??= []).Add($"{b.Address} {Label(state)}");
        }
        return bad is null ? null : $"{pool} backend {string.Join(", ", bad)}";
    }

    private RolloutRun RequireRollout(string service)
    {
        RequireService(service);
        if (_rollouts.TryGetValue(service, out var run) && run.Engine.IsActive) return run;
        throw new TrafficException($"no rollout is running for '{service}'" + (run is null ? "" : $"; the last one {RolloutEngine.Describe(run.Engine.Phase)}"));
    }

    /// <summary>Writes the "rollout" member of a service in status and <c>rollout-status</c>: null when the service never had one.</summary>
    private void WriteRollout(Utf8JsonWriter w, string service)
    {
        if (!_rollouts.TryGetValue(service, out var run))
        {
            w.WriteNull("rollout");
            return;
        }
        var e = run.Engine;
        var now = time.GetUtcNow();
        w.WriteStartObject("rollout");
        w.WriteString("pool", e.ToPool);
        w.WriteString("baseline", e.BaselinePool);
        w.WriteString("state", RolloutEngine.Describe(e.Phase));
        w.WriteString("source", run.FromFile ? "file" : "ctl");
        w.WriteString("started_at", Stamp(e.StartedAt));
        w.WriteNumber("share", e.Share);
        w.WriteNumber("step", e.StepIndex + 1);
        w.WriteNumber("steps_total", e.Config.Steps.Count);
        w.WriteStartArray("steps");
        foreach (var s in e.Config.Steps) w.WriteNumberValue(s);
        w.WriteEndArray();
        if (e.GateIndex >= 0) w.WriteNumber("waiting_gate", e.Config.Steps[e.GateIndex]);
        else w.WriteNull("waiting_gate");
        w.WriteNumber("interval_ms", (long)e.Config.Interval.TotalMilliseconds);
        w.WriteString("settings", e.Config.Describe());
        if (e.Phase == RolloutPhase.Running)
        {
            var (to, baseline) = e.WindowSoFar(SampleOf(e));
            w.WriteStartObject("window");
            w.WriteNumber("elapsed_ms", (long)(now - e.StepStartedAt).TotalMilliseconds);
            w.WriteNumber("ends_in_ms", Math.Max(0, (long)(e.WindowEndsAt - now).TotalMilliseconds));
            w.WriteNumber("intervals", e.Intervals);
            WriteTotals(w, "pool_stats", to);
            WriteTotals(w, "baseline_stats", baseline);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("window");
        }
        w.WriteStartArray("verdicts");
        foreach (var v in e.Verdicts)
        {
            w.WriteStartObject();
            w.WriteNumber("share", v.Share);
            w.WriteString("outcome", v.OutcomeName);
            w.WriteString("at", Stamp(v.At));
            w.WriteNumber("window_ms", (long)v.Window.TotalMilliseconds);
            WriteTotals(w, "pool_stats", v.To);
            WriteTotals(w, "baseline_stats", v.Baseline);
            w.WriteString("reason", v.Reason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (e.Outcome is { } outcome) w.WriteString("outcome", outcome);
        else w.WriteNull("outcome");
        if (e.EndedAt is { } ended) w.WriteString("ended_at", Stamp(ended));
        else w.WriteNull("ended_at");
        w.WriteEndObject();
    }

    private static void WriteTotals(Utf8JsonWriter w, string name, Metrics.TrafficTotals t)
    {
        w.WriteStartObject(name);
        w.WriteNumber("requests", t.Requests);
        w.WriteNumber("errors", t.Errors);
        w.WriteNumber("error_rate", Math.Round(t.ErrorRate, 6));
        w.WriteNumber("p99_ms", Math.Round(t.P99.TotalMilliseconds, 3));
        w.WriteEndObject();
    }

    /// <summary>The <c>rollout-status</c> reply body: the service name and its rollout.</summary>
    public void WriteRolloutStatus(Utf8JsonWriter w, string service)
    {
        lock (_writeLock)
        {
            RequireService(service);
            w.WriteString("service", service);
            WriteRollout(w, service);
        }
    }
}
