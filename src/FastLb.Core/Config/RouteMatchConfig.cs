namespace FastLb.Core.Config;

/// <summary>Conditions of a route; all set conditions must hold. An empty match is a catch-all.</summary>
internal sealed class RouteMatchConfig
{
    public static readonly RouteMatchConfig Any = new();

    /// <summary>Exact host, case-insensitive, port ignored; "*.example.com" matches any subdomain.</summary>
    public string? Host { get; init; }
    public string? PathPrefix { get; init; }
    public string? Path { get; init; }
    public string? Method { get; init; }
    public NameValueMatch? Header { get; init; }
    public NameValueMatch? Cookie { get; init; }

    /// <summary>Exact model names (the request body's top-level "model" or the override header); any one matches.</summary>
    public IReadOnlyList<string>? Models { get; init; }

    /// <summary>Model name prefixes; any one matches.</summary>
    public IReadOnlyList<string>? ModelPrefixes { get; init; }

    /// <summary>True when the route needs the request's model, so its listener peeks JSON bodies.</summary>
    public bool UsesModel => Models is not null || ModelPrefixes is not null;

    public bool IsCatchAll => Host is null && PathPrefix is null && Path is null && Method is null && Header is null && Cookie is null && !UsesModel;
}
