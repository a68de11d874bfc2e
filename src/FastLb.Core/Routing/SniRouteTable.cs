using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>
/// Picks a service by TLS server name: an exact name first, then a <c>*.suffix</c> wildcard covering exactly one
/// label (as certificate wildcards do), then the default. Lookups take the name as lowercased ASCII bytes and
/// allocate nothing. Immutable; built from a listener's sni_routes.
/// </summary>
internal sealed class SniRouteTable
{
    private readonly Dictionary<string, string> _exact = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _wildcard = new(StringComparer.Ordinal); // "example.com" for "*.example.com"
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _exactLookup;
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _wildcardLookup;

    public SniRouteTable(IReadOnlyList<SniRouteConfig> routes)
    {
        foreach (var route in routes)
        {
            if (route.Sni is null) Default ??= route.Service;
            else if (route.Sni.StartsWith("*.", StringComparison.Ordinal)) _wildcard.TryAdd(route.Sni[2..], route.Service);
            else _exact.TryAdd(route.Sni, route.Service);
        }
        _exactLookup = _exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardLookup = _wildcard.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The service for a client without SNI or without a matching route; null = close such connections.</summary>
    public string? Default { get; }

    /// <summary>The service for <paramref name="serverName"/> (lowercase ASCII; empty = no SNI), or null when nothing matches.</summary>
    public string? Match(ReadOnlySpan<byte> serverName)
    {
        if (serverName.IsEmpty || serverName.Length > 253) return Default;
        Span<char> name = stackalloc char[serverName.Length];
        for (var i = 0; i < serverName.Length; i++) name[i] = (char)serverName[i];
        if (_exactLookup.TryGetValue(name, out var service)) return service;
        var dot = name.IndexOf('.');
        if (dot > 0 && _wildcardLookup.TryGetValue(name[(dot + 1)..], out service)) return service;
        return Default;
    }
}
