namespace FastLb.Core.Config;

/// <summary>One sni_routes entry of a tcp listener: a server name (exact or *.suffix; null = the default) and its service.</summary>
internal sealed record SniRouteConfig(string? Sni, string Service);
