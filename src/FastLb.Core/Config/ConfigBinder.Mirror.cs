namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] MirrorKeys = ["service", "pool", "percent", "max_body", "max_in_flight"];
    private const int MaxMirrorBody = 64 * 1024 * 1024;
    private const int MaxMirrorInFlight = 100_000;

    /// <summary>`mirror: { service: web, pool: green, percent: 10, max_body: 1MiB, max_in_flight: 100 }` of a route.</summary>
    private MirrorConfig? BindMirror(ConfigEntry entry, string route, string? routeService)
    {
        var where = $"mirror of {route}";
        var f = Fields(entry.Value, where, MirrorKeys);
        if (f is null) return null;
        var before = _errors.Count;
        var service = routeService;
        if (f.TryGetValue("service", out var serviceEntry) && Text(serviceEntry, "a service name") is { } s)
        {
            service = CheckService(serviceEntry.Value, s, where) ? s : null;
        }
        string? pool = null;
        if (!f.TryGetValue("pool", out var poolEntry))
        {
            Error(entry.Key, $"{where} needs a pool to copy requests to, e.g. pool: green");
        }
        else if (Text(poolEntry, "a pool name") is { } p)
        {
            pool = p;
            if (service is not null && _servicePools.TryGetValue(service, out var pools) && pools is not null && !pools.Contains(p))
            {
                Error(poolEntry.Value, $"unknown pool '{p}' in service '{service}' ({where}); pools are: {Suggestions.List(pools)}{Suggestions.Hint(p, pools)}");
            }
        }
        var percent = 100.0;
        if (f.TryGetValue("percent", out var percentEntry) && PercentValue(percentEntry) is { } fraction) percent = fraction * 100;
        var maxBody = f.TryGetValue("max_body", out var bodyEntry) ? ByteSize(bodyEntry, 0, MaxMirrorBody) ?? MirrorConfig.DefaultMaxBody : MirrorConfig.DefaultMaxBody;
        var maxInFlight = f.TryGetValue("max_in_flight", out var flightEntry) ? Int(flightEntry, 1, MaxMirrorInFlight) ?? MirrorConfig.DefaultMaxInFlight : MirrorConfig.DefaultMaxInFlight;
        if (_errors.Count > before || service is null || pool is null) return null;
        return new MirrorConfig { Service = service, Pool = pool, Percent = percent, MaxBody = maxBody, MaxInFlight = maxInFlight };
    }
}
