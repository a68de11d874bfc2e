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

    public bool IsCatchAll => Host is null && PathPrefix is null && Path is null && Method is null && Header is null && Cookie is null;
}
