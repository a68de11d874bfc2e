using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>The routes of one HTTP listener in one table generation; first match wins.</summary>
internal sealed class ListenerRoutes(ListenerConfig config, CompiledRoute[] routes)
{
    public ListenerConfig Config { get; } = config;
    public CompiledRoute[] Routes { get; } = routes;

    /// <summary>The first route whose conditions hold, or null (answer 404).</summary>
    public CompiledRoute? Match<T>(T request) where T : IHttpRequestView
    {
        foreach (var route in Routes)
        {
            if (route.Matches(request)) return route;
        }
        return null;
    }
}
