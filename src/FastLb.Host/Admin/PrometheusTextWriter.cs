using System.Globalization;
using System.Text;

namespace FastLb.Host.Admin;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4: each family's <c># HELP</c> and <c># TYPE</c> once, then its
/// samples; label values escaped; numbers in invariant culture. Callers write one family's samples together.
/// </summary>
internal sealed class PrometheusTextWriter
{
    private readonly StringBuilder _sb = new(64 * 1024);
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);

    /// <summary>Starts a family; a second start of the same name is a bug (Prometheus rejects the output).</summary>
    public void Family(string name, string type, string help)
    {
        if (!_families.Add(name)) throw new InvalidOperationException($"metric family '{name}' written twice");
        _sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, double value) => Sample(name, [], value);

    /// <summary>One sample; <paramref name="labels"/> alternate name, value.</summary>
    public void Sample(string name, ReadOnlySpan<string> labels, double value)
    {
        _sb.Append(name);
        AppendLabels(labels, null, null);
        _sb.Append(' ');
        AppendValue(value);
        _sb.Append('\n');
    }

    /// <summary>A histogram's buckets (cumulative, ending in +Inf), _sum and _count from per-bin counts.</summary>
    public void Histogram(string name, ReadOnlySpan<string> labels, ReadOnlySpan<double> bounds, ReadOnlySpan<long> cumulative, long count, double sum)
    {
        for (var i = 0; i < bounds.Length; i++)
        {
            _sb.Append(name).Append("_bucket");
            AppendLabels(labels, "le", bounds[i].ToString("R", CultureInfo.InvariantCulture));
            _sb.Append(' ').Append(cumulative[i]).Append('\n');
        }
        _sb.Append(name).Append("_bucket");
        AppendLabels(labels, "le", "+Inf");
        _sb.Append(' ').Append(count).Append('\n');
        _sb.Append(name).Append("_sum");
        AppendLabels(labels, null, null);
        _sb.Append(' ');
        AppendValue(sum);
        _sb.Append('\n');
        _sb.Append(name).Append("_count");
        AppendLabels(labels, null, null);
        _sb.Append(' ').Append(count).Append('\n');
    }

    public override string ToString() => _sb.ToString();

    private void AppendLabels(ReadOnlySpan<string> labels, string? extraName, string? extraValue)
    {
        if (labels.Length == 0 && extraName is null) return;
        _sb.Append('{');
        var first = true;
        for (var i = 0; i + 1 < labels.Length; i += 2)
        {
            if (!first) _sb.Append(',');
            first = false;
            _sb.Append(labels[i]).Append("=\"");
            AppendEscaped(labels[i + 1]);
            _sb.Append('"');
        }
        if (extraName is not null)
        {
            if (!first) _sb.Append(',');
            _sb.Append(extraName).Append("=\"").Append(extraValue).Append('"');
        }
        _sb.Append('}');
    }

    private void AppendEscaped(string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': _sb.Append("\\\\"); break;
                case '"': _sb.Append("\\\""); break;
                case '\n': _sb.Append("\\n"); break;
                default: _sb.Append(c); break;
            }
        }
    }

    private void AppendValue(double value)
    {
        if (double.IsPositiveInfinity(value)) _sb.Append("+Inf");
        else if (double.IsNegativeInfinity(value)) _sb.Append("-Inf");
        else if (double.IsNaN(value)) _sb.Append("NaN");
        else if (value == Math.Floor(value) && Math.Abs(value) < 1e15) _sb.Append((long)value);
        else _sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
    }
}
