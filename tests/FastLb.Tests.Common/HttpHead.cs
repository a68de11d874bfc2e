using System.Text;

namespace FastLb.Tests.Common;

/// <summary>A parsed HTTP/1.1 head as a test sees it: the start line and the header lines in order, untouched.</summary>
internal sealed class HttpHead
{
    private HttpHead(string raw, string startLine, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        Raw = raw;
        StartLine = startLine;
        Headers = headers;
    }

    /// <summary>The head exactly as received (Latin-1), including the final empty line.</summary>
    public string Raw { get; }
    public string StartLine { get; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>Parses a head that ends with CRLFCRLF; lines without a colon are kept with an empty value.</summary>
    public static HttpHead Parse(byte[] bytes)
    {
        var raw = Encoding.Latin1.GetString(bytes);
        var lines = raw[..^4].Split("\r\n");
        var headers = new List<KeyValuePair<string, string>>();
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':');
            headers.Add(colon < 0
                ? new(lines[i], "")
                : new(lines[i][..colon], lines[i][(colon + 1)..].Trim(' ', '\t')));
        }
        return new HttpHead(raw, lines[0], headers);
    }

    /// <summary>The values of every line named <paramref name="name"/> (case-insensitive).</summary>
    public List<string> All(string name)
    {
        var values = new List<string>();
        foreach (var h in Headers)
        {
            if (h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)) values.Add(h.Value);
        }
        return values;
    }

    /// <summary>The first value of <paramref name="name"/>, or null.</summary>
    public string? this[string name] => All(name) is [var first, ..] ? first : null;

    public bool Has(string name) => this[name] is not null;

    /// <summary>True when a comma-separated value of <paramref name="name"/> holds <paramref name="token"/>.</summary>
    public bool HasToken(string name, string token)
    {
        foreach (var value in All(name))
        {
            foreach (var part in value.Split(','))
            {
                if (part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        return false;
    }

    public override string ToString() => Raw;
}
