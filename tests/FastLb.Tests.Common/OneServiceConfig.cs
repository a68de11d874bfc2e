namespace FastLb.Tests.Common;

/// <summary>YAML for an http listener with a catch-all route to service <c>web</c>, built from pools of test backends.</summary>
internal static class OneServiceConfig
{
    /// <summary>Service web with one pool per entry; the first pool is active unless <paramref name="shares"/> says otherwise.</summary>
    /// <param name="serviceExtra">One more key of the service, unindented (<c>balance: round_robin</c>).</param>
    /// <param name="defaultsExtra">More lines of <c>defaults</c>, indented by two spaces.</param>
    public static string Yaml((string Pool, RawHttpBackend[] Backends)[] pools, string shares = "", string serviceExtra = "", string drainTimeout = "5s",
        string defaultsExtra = "")
    {
        if (defaultsExtra.Length > 0 && !defaultsExtra.EndsWith('\n')) defaultsExtra += "\n";
        var poolText = string.Concat(pools.Select(p =>
            $"      {p.Pool}:\n" + string.Concat(p.Backends.Select(b => $"        - {b.EndPoint}\n"))));
        if (shares.Length == 0) shares = $"active: {pools[0].Pool}";
        var extra = serviceExtra.Length == 0 ? "" : $"    {serviceExtra}\n";
        return $"defaults:\n  connect_timeout: 1s\n  drain_timeout: {drainTimeout}\n{defaultsExtra}"
               + "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
               + $"services:\n  web:\n    {shares}\n    drain_timeout: {drainTimeout}\n{extra}    pools:\n{poolText}";
    }

    public static string Yaml(params RawHttpBackend[] backends) => Yaml([("main", backends)]);
}
