using System.Globalization;

namespace FastLb.Core.Config;

/// <summary>Durations as written in the file: an integer and a unit, ms, s, m or h (250ms, 2s, 1m, 1h).</summary>
internal static class ConfigDuration
{
    public const string Examples = "250ms, 2s, 1m";

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits])) digits++;
        if (digits == 0) return false;
        if (!long.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        long unitMs;
        switch (text[digits..])
        {
            case "ms": unitMs = 1; break;
            case "s": unitMs = 1000; break;
            case "m": unitMs = 60_000; break;
            case "h": unitMs = 3_600_000; break; // cookie lifetimes (sticky_split ttl)
            default: return false;
        }
        // Cap at a year: nobody means more, and the product must not overflow TimeSpan.
        if (n > 365L * 24 * 3600 * 1000 / unitMs) return false;
        value = TimeSpan.FromMilliseconds(n * unitMs);
        return true;
    }

    /// <summary>Formats in the largest unit that is exact: 1m, 30s, 250ms.</summary>
    public static string Format(TimeSpan value)
    {
        var ms = (long)value.TotalMilliseconds;
        if (ms != 0 && ms % 60_000 == 0) return (ms / 60_000).ToString(CultureInfo.InvariantCulture) + "m";
        if (ms != 0 && ms % 1000 == 0) return (ms / 1000).ToString(CultureInfo.InvariantCulture) + "s";
        return ms.ToString(CultureInfo.InvariantCulture) + "ms";
    }
}
