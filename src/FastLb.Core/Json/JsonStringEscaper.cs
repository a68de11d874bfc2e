using System.Text;

namespace FastLb.Core.Json;

/// <summary>Encodes a string as the content of a JSON string (RFC 8259 §7): UTF-8, with quote, backslash and control characters escaped.</summary>
internal static class JsonStringEscaper
{
    /// <summary>The escaped UTF-8 bytes of <paramref name="value"/>, without the surrounding quotes (control plane: allocates).</summary>
    public static byte[] Escape(string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
