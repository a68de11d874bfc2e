using System.Net;

namespace FastLb.Core.Config;

/// <summary>A host:port pair as written in the file; Host is an IP literal or a name.</summary>
internal sealed record EndPointConfig(string Host, int Port)
{
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>The IP endpoint, resolving "localhost" to loopback; null for other names.</summary>
    public IPEndPoint? ToIPEndPoint()
    {
        if (IPAddress.TryParse(Host, out var ip)) return new IPEndPoint(ip, Port);
        if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)) return new IPEndPoint(IPAddress.Loopback, Port);
        if (Host == "*") return new IPEndPoint(IPAddress.Any, Port);
        return null;
    }

    /// <summary>Parses "host:port", "[v6]:port"; returns null with an error message on failure.</summary>
    public static EndPointConfig? TryParse(string text, out string? error)
    {
        error = null;
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}' is not an address; expected [ipv6]:port";
                return null;
            }
            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                error = $"'{text}' is not an address; expected host:port, e.g. 127.0.0.1:8080";
                return null;
            }
            host = text[..colon];
            portText = text[(colon + 1)..];
            if (host.Contains(':'))
            {
                error = $"'{text}' is not an address; write IPv6 addresses as [addr]:port";
                return null;
            }
        }
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port < 0 || port > 65535)
        {
            error = $"'{portText}' is not a port in '{text}'; expected 0-65535";
            return null;
        }
        if (host.Length == 0)
        {
            error = $"'{text}' has no host; expected host:port";
            return null;
        }
        return new EndPointConfig(host, port);
    }
}
