using System.Globalization;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] RolloutKeys =
    [
        "steps", "interval", "max_error_rate", "max_error_rate_delta", "max_p99", "max_p99_ratio", "min_requests",
        "manual_gates", "on_inconclusive", "on_unhealthy", "preview_mirror",
    ];
    private static readonly string[] InconclusiveChoices = ["fail", "pause"];
    private static readonly string[] UnhealthyChoices = ["rollback", "ignore"];

    /// <summary>`rollout: { steps: [5, 25, 50, 100], interval: 30s, ... }`; `rollout: {}` uses every default.</summary>
    private RolloutConfig? BindRollout(ConfigEntry entry, string context)
    {
        var where = $"rollout of {context}";
        var f = Fields(entry.Value, where, RolloutKeys);
        if (f is null) return null;
        var before = _errors.Count;
        var d = new RolloutConfig();
        var steps = f.TryGetValue("steps", out var s) ? IntList(s, where) : d.Steps;
        if (steps is not null && RolloutValues.CheckSteps(steps) is { } stepError) Error(s?.Value ?? entry.Key, $"{where}: {stepError}");
        var gates = f.TryGetValue("manual_gates", out var g) ? IntList(g, where) : d.ManualGates;
        if (steps is not null && gates is not null && RolloutValues.CheckGates(gates, steps) is { } gateError) Error(g!.Value, $"{where}: {gateError}");
        var config = new RolloutConfig
        {
            Steps = steps ?? d.Steps,
            Interval = Timeout(f, "interval", d.Interval),
            MaxErrorRate = f.TryGetValue("max_error_rate", out var mer) ? PercentValue(mer) : d.MaxErrorRate,
            MaxErrorRateDelta = f.TryGetValue("max_error_rate_delta", out var merd) ? PercentValue(merd) : null,
            MaxP99 = f.TryGetValue("max_p99", out var mp) ? Duration(mp) : null,
            MaxP99Ratio = f.TryGetValue("max_p99_ratio", out var mpr) ? Ratio(mpr) : null,
            MinRequests = f.TryGetValue("min_requests", out var mr) ? Int(mr, 0, 100_000_000) ?? d.MinRequests : d.MinRequests,
            ManualGates = gates ?? [],
            OnInconclusive = f.TryGetValue("on_inconclusive", out var oi) && Choice(oi, InconclusiveChoices) == "pause" ? InconclusiveAction.Pause : InconclusiveAction.Fail,
            RollbackOnUnhealthy = !(f.TryGetValue("on_unhealthy", out var ou) && Choice(ou, UnhealthyChoices) == "ignore"),
        };
        if (f.TryGetValue("preview_mirror", out var pm) && Bool(pm) == true) config = config.WithPreviewMirror();
        return _errors.Count > before ? null : config;
    }

    /// <summary>A list of integers ([5, 25, 50]) or one integer.</summary>
    private List<int>? IntList(ConfigEntry entry, string where)
    {
        var key = KeyOf(entry);
        var nodes = entry.Value is ConfigSequence seq ? seq.Items : [entry.Value];
        var result = new List<int>();
        foreach (var node in nodes)
        {
            if (node is not ConfigScalar { IsNull: false } scalar || !int.TryParse(scalar.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                Error(node, $"{key} of {where} must be a list of percents, e.g. [5, 25, 50, 100], got {node.Describe()}");
                return null;
            }
            result.Add(n);
        }
        return result;
    }

    /// <summary>"1%" or "0.5%" as a fraction.</summary>
    private double? PercentValue(ConfigEntry entry)
    {
        var text = Text(entry, "a percent, e.g. 1%");
        if (text is null) return null;
        if (RolloutValues.TryParsePercent(text, out var fraction)) return fraction;
        Error(entry.Value, $"{KeyOf(entry)} must be a percent from 0% to 100%, e.g. 1% or 0.5%, got '{text}'");
        return null;
    }

    private double? Ratio(ConfigEntry entry)
    {
        var text = Text(entry, "a ratio, e.g. 1.5");
        if (text is null) return null;
        if (RolloutValues.TryParseRatio(text, out var ratio)) return ratio;
        Error(entry.Value, $"{KeyOf(entry)} must be a ratio above 0, e.g. 1.5, got '{text}'");
        return null;
    }
}
