using System.Globalization;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Metrics;

namespace FastLb.Core.Rollout;

internal sealed partial class RolloutEngine
{
    /// <summary>
    /// Writes everything a new process needs to continue this rollout at the same step and on the same clock (a
    /// process upgrade): settings, phase, step, gate, the window's times and its figures so far (counters are
    /// per process, so the window's traffic travels as figures), and every verdict.
    /// </summary>
    public void WriteState(Utf8JsonWriter w, RolloutSample sample)
    {
        w.WriteString("baseline", BaselinePool);
        w.WriteString("pool", ToPool);
        w.WriteStartObject("config");
        WriteConfig(w, Config);
        w.WriteEndObject();
        w.WriteString("started_at", Time(StartedAt));
        w.WriteString("phase", Describe(Phase));
        w.WriteString("paused_from", Describe(_pausedFrom));
        w.WriteNumber("step_index", StepIndex);
        w.WriteNumber("gate_index", _gateIndex);
        w.WriteString("step_started_at", Time(StepStartedAt));
        w.WriteString("window_ends_at", Time(WindowEndsAt));
        w.WriteNumber("intervals", Intervals);
        var (to, baseline) = WindowSoFar(sample);
        WriteTotals(w, "window_pool", to);
        WriteTotals(w, "window_baseline", baseline);
        w.WriteStartArray("verdicts");
        foreach (var v in _verdicts)
        {
            w.WriteStartObject();
            w.WriteNumber("share", v.Share);
            w.WriteString("outcome", v.OutcomeName);
            w.WriteString("at", Time(v.At));
            w.WriteNumber("window_ms", (long)v.Window.TotalMilliseconds);
            WriteTotals(w, "pool_stats", v.To);
            WriteTotals(w, "baseline_stats", v.Baseline);
            w.WriteString("reason", v.Reason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// The rollout <see cref="WriteState"/> wrote in another process, continuing from <paramref name="sample"/>
    /// (this process's counters now): the window keeps its start and end, and its figures so far are carried.
    /// </summary>
    /// <exception cref="FormatException">A member is missing or has another form.</exception>
    public static RolloutEngine ReadState(string service, JsonElement e, RolloutSample sample)
    {
        var engine = new RolloutEngine(service, Text(e, "baseline"), Text(e, "pool"), ReadConfig(e.GetProperty("config")), ReadTime(e, "started_at"))
        {
            Phase = ParsePhase(Text(e, "phase")),
            StepIndex = e.GetProperty("step_index").GetInt32(),
            StepStartedAt = ReadTime(e, "step_started_at"),
            WindowEndsAt = ReadTime(e, "window_ends_at"),
            Intervals = e.GetProperty("intervals").GetInt32(),
        };
        if (!engine.IsActive) throw new FormatException($"a rollout that is {Describe(engine.Phase)} is not handed over");
        if (engine.StepIndex < -1 || engine.StepIndex >= engine.Config.Steps.Count) throw new FormatException($"step_index {engine.StepIndex} is not a step");
        engine._pausedFrom = ParsePhase(Text(e, "paused_from"));
        engine._gateIndex = e.GetProperty("gate_index").GetInt32();
        engine._toStart = sample.To;
        engine._baselineStart = sample.Baseline;
        engine._toCarried = ReadTotals(e.GetProperty("window_pool"));
        engine._baselineCarried = ReadTotals(e.GetProperty("window_baseline"));
        foreach (var v in e.GetProperty("verdicts").EnumerateArray())
        {
            engine._verdicts.Add(new StepVerdict(
                v.GetProperty("share").GetInt32(),
                ParseOutcome(Text(v, "outcome")),
                ReadTime(v, "at"),
                TimeSpan.FromMilliseconds(v.GetProperty("window_ms").GetInt64()),
                ReadTotals(v.GetProperty("pool_stats")),
                ReadTotals(v.GetProperty("baseline_stats")),
                Text(v, "reason")));
        }
        return engine;
    }

    private static void WriteConfig(Utf8JsonWriter w, RolloutConfig c)
    {
        w.WriteStartArray("steps");
        foreach (var s in c.Steps) w.WriteNumberValue(s);
        w.WriteEndArray();
        w.WriteNumber("interval_ms", (long)c.Interval.TotalMilliseconds);
        WriteNullable(w, "max_error_rate", c.MaxErrorRate);
        WriteNullable(w, "max_error_rate_delta", c.MaxErrorRateDelta);
        WriteNullable(w, "max_p99_ms", c.MaxP99?.TotalMilliseconds);
        WriteNullable(w, "max_p99_ratio", c.MaxP99Ratio);
        w.WriteNumber("min_requests", c.MinRequests);
        w.WriteStartArray("manual_gates");
        foreach (var g in c.ManualGates) w.WriteNumberValue(g);
        w.WriteEndArray();
        w.WriteString("on_inconclusive", c.OnInconclusive == InconclusiveAction.Pause ? "pause" : "fail");
        w.WriteBoolean("rollback_on_unhealthy", c.RollbackOnUnhealthy);
        w.WriteBoolean("preview_mirror", c.PreviewMirror);
    }

    private static RolloutConfig ReadConfig(JsonElement c) => new()
    {
        Steps = [.. c.GetProperty("steps").EnumerateArray().Select(s => s.GetInt32())],
        Interval = TimeSpan.FromMilliseconds(c.GetProperty("interval_ms").GetInt64()),
        MaxErrorRate = Nullable(c, "max_error_rate"),
        MaxErrorRateDelta = Nullable(c, "max_error_rate_delta"),
        MaxP99 = Nullable(c, "max_p99_ms") is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
        MaxP99Ratio = Nullable(c, "max_p99_ratio"),
        MinRequests = c.GetProperty("min_requests").GetInt32(),
        ManualGates = [.. c.GetProperty("manual_gates").EnumerateArray().Select(g => g.GetInt32())],
        OnInconclusive = Text(c, "on_inconclusive") == "pause" ? InconclusiveAction.Pause : InconclusiveAction.Fail,
        RollbackOnUnhealthy = c.GetProperty("rollback_on_unhealthy").GetBoolean(),
        PreviewMirror = c.TryGetProperty("preview_mirror", out var preview) && preview.GetBoolean(),
    };

    private static void WriteTotals(Utf8JsonWriter w, string name, TrafficTotals t)
    {
        w.WriteStartObject(name);
        w.WriteNumber("requests", t.Requests);
        w.WriteNumber("failed_connects", t.FailedConnects);
        w.WriteNumber("errors", t.Errors);
        w.WriteStartArray("duration_bins");
        foreach (var b in t.DurationBins) w.WriteNumberValue(b);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static TrafficTotals ReadTotals(JsonElement t)
    {
        var bins = new long[LatencyBins.Count];
        var i = 0;
        foreach (var b in t.GetProperty("duration_bins").EnumerateArray())
        {
            if (i == bins.Length) throw new FormatException($"more than {bins.Length} duration bins");
            bins[i++] = b.GetInt64();
        }
        return new TrafficTotals(t.GetProperty("requests").GetInt64(), t.GetProperty("failed_connects").GetInt64(), t.GetProperty("errors").GetInt64(), bins);
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static double? Nullable(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : null;

    private static string Text(JsonElement e, string name) =>
        e.GetProperty(name).GetString() ?? throw new FormatException($"'{name}' is null");

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset ReadTime(JsonElement e, string name) =>
        DateTimeOffset.Parse(Text(e, name), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static RolloutPhase ParsePhase(string text) => text switch
    {
        "running" => RolloutPhase.Running,
        "awaiting_promote" => RolloutPhase.AwaitingPromote,
        "paused" => RolloutPhase.Paused,
        "completed" => RolloutPhase.Completed,
        "rolled_back" => RolloutPhase.RolledBack,
        "cancelled" => RolloutPhase.Cancelled,
        _ => throw new FormatException($"unknown rollout phase '{text}'"),
    };

    private static StepOutcome ParseOutcome(string text) => text switch
    {
        "passed" => StepOutcome.Passed,
        "failed" => StepOutcome.Failed,
        "inconclusive" => StepOutcome.Inconclusive,
        "promoted" => StepOutcome.Promoted,
        "aborted" => StepOutcome.Aborted,
        _ => throw new FormatException($"unknown step outcome '{text}'"),
    };
}
