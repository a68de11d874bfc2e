using System.Globalization;

namespace FastLb.Core.Config;

/// <summary>Parsing of rollout values shared by the YAML binder and <c>ctl rollout</c>: step lists, percents and ratios.</summary>
internal static class RolloutValues
{
    /// <summary>"1%", "0.5%" or "1" (a percent either way) as a fraction 0..1.</summary>
    public static bool TryParsePercent(string text, out double fraction)
    {
        fraction = 0;
        var number = text.EndsWith('%') ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) || percent < 0 || percent > 100) return false;
        fraction = percent / 100;
        return true;
    }

    /// <summary>"1.5" or "1.5x": a ratio above 0.</summary>
    public static bool TryParseRatio(string text, out double ratio)
    {
        var number = text.EndsWith('x') ? text[..^1] : text;
        return double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out ratio) && ratio > 0 && ratio <= 1000;
    }

    /// <summary>Checks a step list: each 1..100 and rising (after the 0 of a mirror preview). Null when fine, else what is wrong.</summary>
    public static string? CheckSteps(IReadOnlyList<int> steps, bool previewMirror = false)
    {
        if (steps.Count <= (previewMirror ? 1 : 0)) return "steps needs at least one share, e.g. 5,25,50,100";
        for (var i = 0; i < steps.Count; i++)
        {
            if (previewMirror && i == 0 && steps[i] == 0) continue;
            if (steps[i] is < 1 or > 100) return $"each step is a percent from 1 to 100, got {steps[i]}";
            if (i > 0 && steps[i] <= steps[i - 1]) return $"steps must rise, but {steps[i]} follows {steps[i - 1]}";
        }
        return null;
    }

    /// <summary>Checks manual gates: each names a step. Null when fine, else what is wrong.</summary>
    public static string? CheckGates(IReadOnlyList<int> gates, IReadOnlyList<int> steps)
    {
        foreach (var g in gates)
        {
            if (!steps.Contains(g)) return $"manual gate {g} is not one of the steps ({string.Join(",", steps)})";
        }
        return null;
    }

    /// <summary>"1%", "0.5%", "12.3%".</summary>
    public static string FormatPercent(double fraction) => (fraction * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";
}
