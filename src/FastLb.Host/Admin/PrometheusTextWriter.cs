using System.Globalization;
using System.Text;

namespace FastLb.Host.Admin;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4 as UTF-8: each family's <c># HELP</c> and <c># TYPE</c> once,
/// then its samples; label values escaped; numbers in invariant culture. Callers write one family's samples together.
/// </summary>
/// <remarks>
/// A scrape of 1,000 backends is about 85,000 lines. Each label set (one array per backend, reused by every family)
/// is escaped and encoded once per scrape and then copied as bytes, and the text is built in UTF-8 from the start,
/// so a scrape costs about one pass over its own output. Label arrays must not change after they are first written.
/// </remarks>
internal sealed class PrometheusTextWriter
{
    private byte[] _buffer;
    private int _length;
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<string[], byte[]> _encodedLabels = new(ReferenceEqualityComparer.Instance);
    private double[]? _boundsFormatted;
    private byte[][]? _boundLabelBytes;
    private string? _lastName;
    private byte[] _lastNameBytes = [];

    /// <param name="buffer">Where to write (grown by copying when too small): a buffer kept from the previous scrape.</param>
    public PrometheusTextWriter(byte[] buffer) => _buffer = buffer;

    public PrometheusTextWriter() : this(new byte[64 * 1024]) { }

    /// <summary>Starts a family; a second start of the same name is a bug (Prometheus rejects the output).</summary>
    public void Family(string name, string type, string help)
    {
        if (!_families.Add(name)) throw new InvalidOperationException($"metric family '{name}' written twice");
        Append("# HELP "u8).Append(name).Append(" "u8).Append(help).Append("\n# TYPE "u8).Append(name).Append(" "u8).Append(type).Append("\n"u8);
    }

    public void Sample(string name, double value) => Sample(name, [], value);

    /// <summary>A family with one sample per item: the name is written once, so the family and its samples cannot disagree.</summary>
    public void Family<T>(string name, string type, string help, IReadOnlyList<T> items, Func<T, string[]> labels, Func<T, double> value)
    {
        Family(name, type, help);
        for (var i = 0; i < items.Count; i++) Sample(name, labels(items[i]), value(items[i]));
    }

    /// <summary>One sample; <paramref name="labels"/> alternate name, value.</summary>
    public void Sample(string name, string[] labels, double value) => Sample(name, labels, null, null, value);

    /// <summary>One sample with one more label after <paramref name="labels"/> (a status class, a state, a bucket bound).</summary>
    public void Sample(string name, string[] labels, string? extraName, string? extraValue, double value)
    {
        AppendName(name);
        AppendLabels(labels, extraName, extraValue);
        Append(" "u8);
        AppendValue(value);
        Append("\n"u8);
    }

    /// <summary>A histogram's buckets (cumulative, ending in +Inf), _sum and _count from per-bin counts.</summary>
    public void Histogram(string name, string[] labels, ReadOnlySpan<double> bounds, ReadOnlySpan<long> cumulative, long count, double sum)
    {
        var les = BoundLabels(bounds);
        for (var i = 0; i < bounds.Length; i++)
        {
            AppendName(name).Append("_bucket"u8);
            AppendLabelsThen(labels, les[i]);
            AppendInteger(cumulative[i]).Append("\n"u8);
        }
        AppendName(name).Append("_bucket"u8);
        AppendLabels(labels, "le", "+Inf");
        Append(" "u8).AppendInteger(count).Append("\n"u8);
        AppendName(name).Append("_sum"u8);
        AppendLabels(labels, null, null);
        Append(" "u8);
        AppendValue(sum);
        Append("\n"u8);
        AppendName(name).Append("_count"u8);
        AppendLabels(labels, null, null);
        Append(" "u8).AppendInteger(count).Append("\n"u8);
    }

    /// <summary>The buffer written to (the one passed in, or a larger copy) and how much of it is used.</summary>
    public byte[] Buffer => _buffer;

    public int Length => _length;

    public override string ToString() => Encoding.UTF8.GetString(_buffer, 0, _length);

    /// <summary>
    /// The <c>,le="0.005"} </c> tail of each bucket line, encoded once per scrape rather than once per line (the
    /// leading comma is skipped when the series has no other label).
    /// </summary>
    private byte[][] BoundLabels(ReadOnlySpan<double> bounds)
    {
        if (_boundLabelBytes is not null && bounds.SequenceEqual(_boundsFormatted)) return _boundLabelBytes;
        _boundsFormatted = bounds.ToArray();
        _boundLabelBytes = new byte[bounds.Length][];
        for (var i = 0; i < bounds.Length; i++)
        {
            _boundLabelBytes[i] = Encoding.UTF8.GetBytes(",le=\"" + bounds[i].ToString("R", CultureInfo.InvariantCulture) + "\"} ");
        }
        return _boundLabelBytes;
    }

    /// <summary>The series' labels followed by a pre-encoded last label, closing brace and space.</summary>
    private PrometheusTextWriter AppendLabelsThen(string[] labels, byte[] tail)
    {
        if (labels.Length == 0) return Append("{"u8).Append(tail.AsSpan(1));
        return Append(Encoded(labels)).Append(tail);
    }

    /// <summary>A metric name: sample names are literals, so the last one's bytes are reused while it repeats.</summary>
    private PrometheusTextWriter AppendName(string name)
    {
        if (!ReferenceEquals(name, _lastName))
        {
            _lastName = name;
            _lastNameBytes = Encoding.UTF8.GetBytes(name);
        }
        return Append(_lastNameBytes);
    }

    private void AppendLabels(string[] labels, string? extraName, string? extraValue)
    {
        if (labels.Length == 0 && extraName is null) return;
        if (labels.Length > 0) Append(Encoded(labels)); // "{a="x",b="y"" without the closing brace
        if (extraName is not null)
        {
            Append(labels.Length == 0 ? "{"u8 : ","u8).Append(extraName).Append("=\""u8);
            AppendEscaped(extraValue ?? "");
            Append("\""u8);
        }
        Append("}"u8);
    }

    private byte[] Encoded(string[] labels)
    {
        if (_encodedLabels.TryGetValue(labels, out var bytes)) return bytes;
        var text = new StringBuilder("{");
        for (var i = 0; i + 1 < labels.Length; i += 2)
        {
            if (i > 0) text.Append(',');
            text.Append(labels[i]).Append("=\"").Append(Escape(labels[i + 1])).Append('"');
        }
        bytes = Encoding.UTF8.GetBytes(text.ToString());
        _encodedLabels[labels] = bytes;
        return bytes;
    }

    private void AppendEscaped(string value) => Append(Escape(value));

    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny('\\', '"', '\n') < 0 ? value : value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private void AppendValue(double value)
    {
        if (double.IsPositiveInfinity(value)) Append("+Inf"u8);
        else if (double.IsNegativeInfinity(value)) Append("-Inf"u8);
        else if (double.IsNaN(value)) Append("NaN"u8);
        else if (value == Math.Floor(value) && Math.Abs(value) < 1e15) AppendInteger((long)value);
        else
        {
            int written;
            while (!value.TryFormat(_buffer.AsSpan(_length), out written, "R", CultureInfo.InvariantCulture)) Grow(32);
            _length += written;
        }
    }

    private PrometheusTextWriter AppendInteger(long value)
    {
        int written;
        while (!value.TryFormat(_buffer.AsSpan(_length), out written, default, CultureInfo.InvariantCulture)) Grow(24);
        _length += written;
        return this;
    }

    private PrometheusTextWriter Append(ReadOnlySpan<byte> bytes)
    {
        if (_buffer.Length - _length < bytes.Length) Grow(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
        return this;
    }

    private PrometheusTextWriter Append(string text)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (_buffer.Length - _length < max) Grow(max);
        _length += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_length));
        return this;
    }

    private void Grow(int needed) => Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + needed));
}
