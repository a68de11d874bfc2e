namespace FastLb.Core.Config;

/// <summary>An HTTP route: when <see cref="Match"/> holds, send to <see cref="Service"/> (optionally pinned to one pool).</summary>
internal sealed class RouteConfig
{
    public RouteMatchConfig Match { get; init; } = RouteMatchConfig.Any;
    public required string Service { get; init; }

    /// <summary>Pins the route to one pool, bypassing the service's split (preview).</summary>
    public string? Pool { get; init; }

    /// <summary>A <c>models:</c> alias: the model name written into the forwarded body in place of the client's; null = unchanged.</summary>
    public string? ModelRewrite { get; init; }

    /// <summary>Copies of a share of the route's requests to another pool; null = none.</summary>
    public MirrorConfig? Mirror { get; init; }
}
