using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>The routes of one HTTP listener in one table generation; first match wins.</summary>
internal sealed class ListenerRoutes(ListenerConfig config, CompiledRoute[] routes)
{
    public ListenerConfig Config { get; } = config;
    public CompiledRoute[] Routes { get; } = routes;

    /// <summary>True when a route matches on the model: only then does the listener read request bodies before routing.</summary>
    public bool UsesModel { get; } = Array.Exists(routes, r => r.UsesModel);

    /// <summary>Per-model counters, which the proxy adds to on listeners that route by model (<see cref="UsesModel"/>).</summary>
    public Metrics.ModelTrafficRegistry? ModelTraffic { get; init; }

    /// <summary>The header that names the model and overrides the body (lower-case ASCII).</summary>
    public byte[] ModelHeader { get; } = System.Text.Encoding.ASCII.GetBytes(config.ModelHeader);

    /// <summary>The first route whose conditions hold, or null (answer 404).</summary>
    public CompiledRoute? Match<T>(T request) where T : IHttpRequestView => Match(request, default);

    /// <summary>The first route whose conditions hold for a request with model <paramref name="model"/> (empty = none), or null.</summary>
    public CompiledRoute? Match<T>(T request, ReadOnlySpan<byte> model) where T : IHttpRequestView
    {
        foreach (var route in Routes)
        {
            if (route.Matches(request, model)) return route;
        }
        return null;
    }
}
