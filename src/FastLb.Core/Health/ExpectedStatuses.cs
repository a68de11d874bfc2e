using System.Globalization;

namespace FastLb.Core.Health;

/// <summary>The HTTP status codes a health check accepts: a code, a range or a list of both ("200,204,300-399").</summary>
internal sealed class ExpectedStatuses
{
    public static readonly ExpectedStatuses Default = new("200-399", [(200, 399)]);

    private readonly (int Low, int High)[] _ranges;

    private ExpectedStatuses(string text, (int Low, int High)[] ranges)
    {
        Text = text;
        _ranges = ranges;
    }

    /// <summary>The normalized text ("200,204,300-399").</summary>
    public string Text { get; }

    public bool Contains(int status)
    {
        foreach (var (low, high) in _ranges)
        {
            if (status >= low && status <= high) return true;
        }
        return false;
    }

    /// <summary>Parses comma-separated items, each a code (100-599) or LOW-HIGH; null with <paramref name="error"/> set when invalid.</summary>
    public static ExpectedStatuses? TryParse(IEnumerable<string> items, out string? error)
    {
        var ranges = new List<(int, int)>();
        var parts = new List<string>();
        foreach (var raw in items)
        {
            foreach (var piece in raw.Split(','))
            {
                var item = piece.Trim();
                if (item.Length == 0) continue;
                var dash = item.IndexOf('-');
                var lowText = dash < 0 ? item : item[..dash];
                var highText = dash < 0 ? item : item[(dash + 1)..];
                if (!TryCode(lowText, out var low) || !TryCode(highText, out var high))
                {
                    error = $"'{item}' is not a status code (100-599) or a range like 200-399";
                    return null;
                }
                if (high < low)
                {
                    error = $"range '{item}' ends before it starts";
                    return null;
                }
                ranges.Add((low, high));
                parts.Add(low == high ? low.ToString(CultureInfo.InvariantCulture) : $"{low}-{high}");
            }
        }
        if (ranges.Count == 0)
        {
            error = "expect needs at least one status code or range, e.g. 200-399";
            return null;
        }
        error = null;
        return new ExpectedStatuses(string.Join(",", parts), [.. ranges]);
    }

    private static bool TryCode(string text, out int code) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out code) && code is >= 100 and <= 599;
}
