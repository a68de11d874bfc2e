using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace FastLb.Tests.Common;

/// <summary>
/// A strict reader of the Prometheus text format 0.0.4: every line valid, every family documented and typed once
/// before its samples, samples of a family together, no duplicate series, histogram buckets cumulative and ending in
/// +Inf equal to _count. <see cref="Validate"/> lists every problem; <see cref="Sum"/> reads values back.
/// </summary>
public static partial class PrometheusExposition
{
    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    public sealed record Sample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
    {
        public string? Label(string name) => Labels.FirstOrDefault(l => l.Key == name).Value;
    }

    /// <summary>Every problem found, with its line number; empty when the text is valid.</summary>
    public static List<string> Validate(string text)
    {
        var problems = new List<string>();
        if (!text.EndsWith('\n')) problems.Add("the text does not end with a newline");
        var help = new HashSet<string>();
        var types = new Dictionary<string, string>();
        var finished = new HashSet<string>();
        var series = new HashSet<string>();
        string? current = null;
        var histograms = new Dictionary<string, List<(double Le, double Value)>>();
        var counts = new Dictionary<string, double>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var at = $"line {i + 1}";
            if (line.Length == 0)
            {
                if (i != lines.Length - 1) problems.Add($"{at}: empty line");
                continue;
            }
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length < 3 || parts[0] != "#" || parts[1] is not ("HELP" or "TYPE"))
                {
                    problems.Add($"{at}: comment is neither # HELP nor # TYPE: {line}");
                    continue;
                }
                var name = parts[2];
                if (!MetricName().IsMatch(name)) problems.Add($"{at}: bad metric name '{name}'");
                if (!name.StartsWith("fastlb_", StringComparison.Ordinal)) problems.Add($"{at}: '{name}' lacks the fastlb_ prefix");
                if (finished.Contains(name) || (current is not null && current != name && (help.Contains(name) || types.ContainsKey(name))))
                {
                    problems.Add($"{at}: family '{name}' appears in two places");
                }
                if (current is not null && current != name) finished.Add(current);
                current = name;
                if (parts[1] == "HELP")
                {
                    if (!help.Add(name)) problems.Add($"{at}: second # HELP for '{name}'");
                    if (parts.Length < 4 || parts[3].Trim().Length == 0) problems.Add($"{at}: empty help for '{name}'");
                }
                else
                {
                    var type = parts.Length == 4 ? parts[3] : "";
                    if (type is not ("counter" or "gauge" or "histogram" or "summary" or "untyped")) problems.Add($"{at}: bad type '{type}'");
                    if (!types.TryAdd(name, type)) problems.Add($"{at}: second # TYPE for '{name}'");
                    if (type == "counter" && !name.EndsWith("_total", StringComparison.Ordinal)) problems.Add($"{at}: counter '{name}' does not end in _total");
                }
                continue;
            }
            var sample = ParseSample(line, out var error);
            if (sample is null)
            {
                problems.Add($"{at}: {error}: {line}");
                continue;
            }
            var family = FamilyOf(sample.Name, types);
            if (family is null)
            {
                problems.Add($"{at}: sample '{sample.Name}' has no # TYPE before it");
                continue;
            }
            if (family != current) problems.Add($"{at}: sample of '{family}' outside its family's block");
            if (!help.Contains(family)) problems.Add($"{at}: family '{family}' has no # HELP");
            var key = sample.Name + "{" + string.Join(",", sample.Labels.Select(l => l.Key + "=" + l.Value)) + "}";
            if (!series.Add(key)) problems.Add($"{at}: duplicate series {key}");
            if (types[family] == "counter" && (sample.Value < 0 || double.IsNaN(sample.Value))) problems.Add($"{at}: counter value {sample.Value}");
            if (types[family] == "histogram")
            {
                var seriesKey = family + "{" + string.Join(",", sample.Labels.Where(l => l.Key != "le").Select(l => l.Key + "=" + l.Value)) + "}";
                if (sample.Name == family + "_bucket")
                {
                    var le = sample.Label("le");
                    if (le is null)
                    {
                        problems.Add($"{at}: bucket without le");
                        continue;
                    }
                    var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
                    if (!histograms.TryGetValue(seriesKey, out var buckets)) histograms[seriesKey] = buckets = [];
                    if (buckets.Count > 0 && (bound <= buckets[^1].Le || sample.Value < buckets[^1].Value))
                    {
                        problems.Add($"{at}: bucket le={le} is not after and at least the previous one");
                    }
                    buckets.Add((bound, sample.Value));
                }
                else if (sample.Name == family + "_count")
                {
                    counts[seriesKey] = sample.Value;
                }
                else if (sample.Name != family + "_sum")
                {
                    problems.Add($"{at}: '{sample.Name}' is not a histogram sample of '{family}'");
                }
            }
            else if (sample.Name != family && !(types[family] == "summary" && (sample.Name == family + "_sum" || sample.Name == family + "_count")))
            {
                problems.Add($"{at}: sample '{sample.Name}' does not match its family '{family}'");
            }
        }
        foreach (var (key, buckets) in histograms)
        {
            if (buckets.Count == 0 || !double.IsPositiveInfinity(buckets[^1].Le)) problems.Add($"histogram {key}: last bucket is not +Inf");
            else if (!counts.TryGetValue(key, out var count)) problems.Add($"histogram {key}: no _count");
            else if (count != buckets[^1].Value) problems.Add($"histogram {key}: _count {count} differs from the +Inf bucket {buckets[^1].Value}");
        }
        return problems;
    }

    /// <summary>Every sample in the text (comments skipped).</summary>
    public static List<Sample> Samples(string text) =>
        [.. text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => ParseSample(l, out _)!).Where(s => s is not null)];

    /// <summary>The sum of the samples named <paramref name="name"/> whose labels include every pair of <paramref name="labels"/>.</summary>
    public static double Sum(string text, string name, params (string Name, string Value)[] labels) =>
        Samples(text).Where(s => s.Name == name && labels.All(l => s.Label(l.Name) == l.Value)).Sum(s => s.Value);

    /// <summary>
    /// The value of the one sample named <paramref name="name"/> whose labels include every pair of
    /// <paramref name="labels"/>; fails the test when there is none or more than one.
    /// </summary>
    public static double Value(string text, string name, params (string Name, string Value)[] labels)
    {
        var matching = Samples(text).Where(s => s.Name == name && labels.All(l => s.Label(l.Name) == l.Value)).ToList();
        Assert.True(matching.Count == 1, $"{matching.Count} samples of {name}{{{string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value}\""))}}} in the metrics, not one");
        return matching[0].Value;
    }

    private static string? FamilyOf(string sampleName, Dictionary<string, string> types)
    {
        if (types.ContainsKey(sampleName)) return sampleName;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal))
            {
                var family = sampleName[..^suffix.Length];
                if (types.TryGetValue(family, out var type) && type is "histogram" or "summary") return family;
            }
        }
        return null;
    }

    private static Sample? ParseSample(string line, out string error)
    {
        error = "";
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        var name = line[..i];
        if (!MetricName().IsMatch(name))
        {
            error = $"bad metric name '{name}'";
            return null;
        }
        var labels = new List<KeyValuePair<string, string>>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}') { i++; break; }
                var eq = line.IndexOf('=', i);
                if (eq < 0) { error = "label without '='"; return null; }
                var labelName = line[i..eq];
                if (!LabelName().IsMatch(labelName)) { error = $"bad label name '{labelName}'"; return null; }
                if (labels.Any(l => l.Key == labelName)) { error = $"label '{labelName}' twice"; return null; }
                if (eq + 1 >= line.Length || line[eq + 1] != '"') { error = "label value not quoted"; return null; }
                var value = new System.Text.StringBuilder();
                var j = eq + 2;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] != '\\') { value.Append(line[j]); continue; }
                    if (++j >= line.Length) break;
                    if (line[j] == 'n') value.Append('\n');
                    else if (line[j] is '\\' or '"') value.Append(line[j]);
                    else { error = $"bad escape '\\{line[j]}'"; return null; }
                }
                if (j >= line.Length) { error = "unterminated label value"; return null; }
                labels.Add(new(labelName, value.ToString()));
                i = j + 1;
                if (i < line.Length && line[i] == ',') i++;
                else if (i < line.Length && line[i] == '}') { i++; break; }
                else { error = "expected ',' or '}' after a label"; return null; }
            }
        }
        if (i >= line.Length || line[i] != ' ') { error = "no space before the value"; return null; }
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2) { error = "expected a value and an optional timestamp"; return null; }
        double v;
        if (rest[0] == "+Inf") v = double.PositiveInfinity;
        else if (rest[0] == "-Inf") v = double.NegativeInfinity;
        else if (rest[0] == "NaN") v = double.NaN;
        else if (!double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out v)) { error = $"bad value '{rest[0]}'"; return null; }
        if (rest.Length == 2 && !long.TryParse(rest[1], out _)) { error = $"bad timestamp '{rest[1]}'"; return null; }
        return new Sample(name, labels, v);
    }
}
