using System.Globalization;
using FastLb.Core.Config;
using FastLb.Core.Traffic;

namespace FastLb.Host.Control;

/// <summary>The options of <c>ctl rollout SERVICE POOL ...</c>, read into a <see cref="RolloutConfig"/> (the same settings as a `rollout:` block).</summary>
internal static class RolloutOptions
{
    public const string Usage = "usage: rollout SERVICE POOL [--steps 5,25,50,100] [--interval 30s] [--max-error-rate 1%] [--max-error-rate-delta 0.5%] "
        + "[--max-p99 500ms] [--max-p99-ratio 1.5] [--min-requests 100] [--manual-gate 50] [--on-inconclusive fail|pause] [--ignore-unhealthy] [--preview-mirror] [--force]";

    /// <summary>Reads the options after SERVICE POOL (<paramref name="words"/> from index 3); throws <see cref="TrafficException"/> on a bad one.</summary>
    public static RolloutConfig Parse(IReadOnlyList<string> words, int start)
    {
        var config = new RolloutConfig();
        var gates = new List<int>();
        var preview = false;
        for (var i = start; i < words.Count; i++)
        {
            var option = words[i];
            if (option == "--preview-mirror")
            {
                preview = true;
                continue;
            }
            if (option == "--ignore-unhealthy")
            {
                config = config with { RollbackOnUnhealthy = false };
                continue;
            }
            if (i + 1 >= words.Count) throw new TrafficException($"{option} needs a value; {Usage}");
            var value = words[++i];
            config = option switch
            {
                "--steps" => config with { Steps = Ints(option, value) },
                "--interval" => config with { Interval = Duration(option, value) },
                "--max-error-rate" => config with { MaxErrorRate = Percent(option, value) },
                "--max-error-rate-delta" => config with { MaxErrorRateDelta = Percent(option, value) },
                "--max-p99" => config with { MaxP99 = Duration(option, value) },
                "--max-p99-ratio" => config with
                {
                    MaxP99Ratio = RolloutValues.TryParseRatio(value, out var r) ? r : throw new TrafficException($"{option} takes a ratio above 0 (e.g. 1.5), got '{value}'"),
                },
                "--min-requests" => config with
                {
                    MinRequests = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new TrafficException($"{option} takes a whole number, got '{value}'"),
                },
                "--manual-gate" => config,
                "--on-inconclusive" => config with
                {
                    OnInconclusive = value switch
                    {
                        "fail" => InconclusiveAction.Fail,
                        "pause" => InconclusiveAction.Pause,
                        _ => throw new TrafficException($"{option} takes fail or pause, got '{value}'"),
                    },
                },
                _ => throw new TrafficException($"unknown option '{option}'; {Usage}"),
            };
            if (option == "--manual-gate") gates.AddRange(Ints(option, value));
        }
        config = config with { ManualGates = gates };
        if (RolloutValues.CheckSteps(config.Steps) is { } stepError) throw new TrafficException($"--steps: {stepError}");
        if (RolloutValues.CheckGates(config.ManualGates, config.Steps) is { } gateError) throw new TrafficException($"--manual-gate: {gateError}");
        return preview ? config.WithPreviewMirror() : config;
    }

    private static List<int> Ints(string option, string value)
    {
        var result = new List<int>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var text = part.TrimEnd('%');
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) throw new TrafficException($"{option} takes percents separated by commas (e.g. 5,25,50,100), got '{value}'");
            result.Add(n);
        }
        return result;
    }

    private static TimeSpan Duration(string option, string value) =>
        ConfigDuration.TryParse(value, out var d) && d > TimeSpan.Zero ? d : throw new TrafficException($"{option} takes a duration (e.g. {ConfigDuration.Examples}), got '{value}'");

    private static double Percent(string option, string value) =>
        RolloutValues.TryParsePercent(value, out var f) ? f : throw new TrafficException($"{option} takes a percent from 0% to 100% (e.g. 1%), got '{value}'");
}
