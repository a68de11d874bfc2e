using System.Buffers.Text;
using System.Globalization;

namespace FastLb.Core.Health;

/// <summary>Reads a <c>Retry-After</c> value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, bounded by <see cref="Max"/>.</summary>
internal static class RetryAfter
{
    /// <summary>The longest a backend is ejected for on its own word: a wrong or hostile date never takes it out for long.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMinutes(5);

    // IMF-fixdate first (what servers send), then the two obsolete forms recipients must accept.
    private static readonly string[] DateFormats = ["r", "dddd, dd-MMM-yy HH:mm:ss 'GMT'", "ddd MMM d HH:mm:ss yyyy"];

    /// <summary>The delay <paramref name="value"/> asks for at <paramref name="now"/>, at most <see cref="Max"/>; false when it is malformed or not in the future.</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, DateTimeOffset now, out TimeSpan delay)
    {
        delay = TimeSpan.Zero;
        value = value.Trim((byte)' ').Trim((byte)'\t');
        if (value.IsEmpty || value.Length > 64) return false;
        if (value[0] is >= (byte)'0' and <= (byte)'9')
        {
            // A delay too large for a long is still "a long time": the bound applies.
            if (!Utf8Parser.TryParse(value, out ulong seconds, out var consumed) || consumed != value.Length)
            {
                if (!IsDigits(value)) return false;
                seconds = ulong.MaxValue;
            }
            delay = seconds >= (ulong)Max.TotalSeconds ? Max : TimeSpan.FromSeconds(seconds);
            return delay > TimeSpan.Zero;
        }
        var text = System.Text.Encoding.ASCII.GetString(value);
        if (!DateTimeOffset.TryParseExact(text, DateFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AllowInnerWhite | DateTimeStyles.AssumeUniversal, out var date))
        {
            return false;
        }
        var left = date - now;
        if (left <= TimeSpan.Zero) return false;
        delay = left > Max ? Max : left;
        return true;
    }

    private static bool IsDigits(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
        }
        return true;
    }
}
