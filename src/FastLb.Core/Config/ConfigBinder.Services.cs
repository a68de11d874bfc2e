using System.Net;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] ServiceKeys =
    [
        "balance", "hash_on", "active", "split", "pools", "rewrite_host",
        "drain_timeout", "connect_timeout", "idle_timeout", "response_head_timeout", "upstream_idle_timeout", "stream_idle_timeout",
        "health_check", "initial_state", "outlier", "panic_threshold", "slow_start", "min_healthy_percent", "send_proxy",
        "rollout", "sticky_split", "fallback", "tls",
    ];
    private static readonly string[] StickySplitKeys = ["by", "cookie", "ttl"];
    private static readonly string[] StickyByNames = ["cookie", "client_ip"];
    private static readonly string[] SendProxyNames = ["v1", "v2"];
    private static readonly string[] PoolKeys = ["backends", "health_check"];
    private static readonly string[] BalanceNames = ["round_robin", "least_request", "random", "hash"];
    private static readonly string[] BackendKeys = ["address", "weight"];
    private const int MaxWeight = 1_000_000;

    // Service name -> its pool names, or null when the pools could not be read; filled before listeners bind.
    private readonly Dictionary<string, IReadOnlyList<string>?> _servicePools = new(StringComparer.Ordinal);
    private readonly List<string> _serviceNames = [];

    private List<ServiceConfig> BindServices(ConfigEntry? entry, DefaultsConfig defaults)
    {
        var result = new List<ServiceConfig>();
        if (entry is null) return result;
        var f = Fields(entry.Value, "services", null);
        if (f is null) return result;
        foreach (var (_, e) in f)
        {
            var service = BindService(e, defaults);
            if (service is not null) result.Add(service);
        }
        CheckFallbackTargets();
        return result;
    }

    private ServiceConfig? BindService(ConfigEntry entry, DefaultsConfig defaults)
    {
        var name = ((ConfigScalar)entry.Key).Value;
        var context = $"service '{name}'";
        _serviceNames.Add(name);
        _servicePools[name] = null;
        var before = _errors.Count;
        CheckName(entry.Key, name, "service");
        var f = Fields(entry.Value, context, ServiceKeys);
        if (f is null) return null;

        var balance = BalanceKind.RoundRobin;
        var balanceKnown = true;
        if (f.TryGetValue("balance", out var b))
        {
            var text = Choice(b, BalanceNames);
            balanceKnown = text is not null;
            balance = text switch
            {
                "least_request" => BalanceKind.LeastRequest,
                "random" => BalanceKind.Random,
                "hash" => BalanceKind.Hash,
                _ => BalanceKind.RoundRobin,
            };
        }
        var hashOn = HashOn.ClientIp;
        if (f.TryGetValue("hash_on", out var h) && ParseHashOn(h) is { } parsed)
        {
            hashOn = parsed;
            if (balanceKnown && balance != BalanceKind.Hash)
            {
                Error(h.Key, $"hash_on only applies with balance: hash, but {context} balances with {BalanceNames[(int)balance]}; remove hash_on or set balance: hash");
            }
        }

        var pools = BindPools(entry, f.GetValueOrDefault("pools"), name);
        _servicePools[name] = pools?.Select(p => p.Name).ToList();
        var shares = pools is null ? null : BindShares(entry, f, pools, name);
        if (shares is not null && pools is not null)
        {
            foreach (var pool in pools)
            {
                if (shares[pool.Name] > 0 && pool.Backends.Count > 0 && pool.Backends.All(x => x.Weight == 0))
                {
                    var at = (ConfigNode?)(f["pools"].Value as ConfigMapping)?.Entries.FirstOrDefault(e => e.Key is ConfigScalar k && k.Value == pool.Name)?.Key ?? entry.Key;
                    Error(at, $"pool '{pool.Name}' of {context} has share {shares[pool.Name]} but every backend in it has weight 0, so its traffic would fail");
                }
            }
        }

        var service = new ServiceConfig
        {
            Name = name,
            Balance = balance,
            HashOn = hashOn,
            Pools = pools ?? [],
            Shares = shares ?? new Dictionary<string, int>(),
            DrainTimeout = Timeout(f, "drain_timeout", defaults.DrainTimeout),
            ConnectTimeout = Timeout(f, "connect_timeout", defaults.ConnectTimeout),
            IdleTimeout = Timeout(f, "idle_timeout", defaults.IdleTimeout),
            ResponseHeadTimeout = Timeout(f, "response_head_timeout", defaults.ResponseHeadTimeout),
            UpstreamIdleTimeout = Timeout(f, "upstream_idle_timeout", defaults.UpstreamIdleTimeout),
            StreamIdleTimeout = Timeout(f, "stream_idle_timeout", ServiceConfig.DefaultStreamIdleTimeout),
            RewriteHost = f.TryGetValue("rewrite_host", out var rh) && Bool(rh) == true,
            HealthCheck = f.TryGetValue("health_check", out var hc) ? BindHealthCheck(hc, context) : null,
            InitialState = f.TryGetValue("initial_state", out var init) ? BindInitialState(init) : InitialHealth.Unknown,
            Outlier = f.TryGetValue("outlier", out var outlier) ? BindOutlier(outlier, context) : null,
            PanicThreshold = Percent(f, "panic_threshold", 0),
            SlowStart = f.TryGetValue("slow_start", out var ss) && Duration(ss) is { } slow ? slow : TimeSpan.Zero,
            MinHealthyPercent = Percent(f, "min_healthy_percent", 100),
            SendProxy = f.TryGetValue("send_proxy", out var sp) ? Choice(sp, SendProxyNames) switch { "v1" => 1, "v2" => 2, _ => 0 } : 0,
            Rollout = f.TryGetValue("rollout", out var ro) ? BindRollout(ro, context) : null,
            StickySplit = f.TryGetValue("sticky_split", out var sticky) ? BindStickySplit(sticky, context, balance) : null,
            Fallback = f.TryGetValue("fallback", out var fallback) ? BindFallback(fallback, name, pools) : null,
            Tls = f.TryGetValue("tls", out var tls) ? BindUpstreamTls(tls, context) : null,
        };
        return _errors.Count > before ? null : service;
    }

    /// <summary>`sticky_split: { cookie: fastlb_pool, ttl: 1h }` or `sticky_split: { by: client_ip }`.</summary>
    private StickySplitConfig? BindStickySplit(ConfigEntry entry, string context, BalanceKind balance)
    {
        var where = $"sticky_split of {context}";
        var f = Fields(entry.Value, where, StickySplitKeys);
        if (f is null) return null;
        if (balance == BalanceKind.Hash)
        {
            Error(entry.Key, $"sticky_split does not apply with balance: hash, which keeps each key on one pool already; remove sticky_split");
            return null;
        }
        var by = f.TryGetValue("by", out var b) && Choice(b, StickyByNames) == "client_ip" ? StickyBy.ClientIp : StickyBy.Cookie;
        var cookie = StickySplitConfig.DefaultCookie;
        if (f.TryGetValue("cookie", out var c) && Text(c, "a cookie name, e.g. fastlb_pool") is { } name)
        {
            if (IsToken(name)) cookie = name;
            else Error(c.Value, $"cookie of {where} must be a cookie name (letters, digits, - _ .), got '{name}'");
        }
        if (by == StickyBy.ClientIp && (f.ContainsKey("cookie") || f.ContainsKey("ttl")))
        {
            Error(b!.Value, $"{where}: by: client_ip sets no cookie, so cookie and ttl do not apply");
        }
        return new StickySplitConfig { By = by, Cookie = cookie, Ttl = Timeout(f, "ttl", StickySplitConfig.DefaultTtl) };
    }

    private HashOn? ParseHashOn(ConfigEntry entry)
    {
        const string expected = "client_ip, header:NAME or cookie:NAME";
        var text = Text(entry, expected);
        if (text is null) return null;
        if (text == "client_ip") return HashOn.ClientIp;
        var colon = text.IndexOf(':');
        var kind = colon < 0 ? text : text[..colon];
        var name = colon < 0 ? "" : text[(colon + 1)..];
        HashSource? source = kind switch
        {
            "header" => HashSource.Header,
            "cookie" => HashSource.Cookie,
            _ => null,
        };
        if (source is null || !IsToken(name))
        {
            Error(entry.Value, $"hash_on must be {expected}, got '{text}'");
            return null;
        }
        return new HashOn(source.Value, source == HashSource.Header ? name.ToLowerInvariant() : name);
    }

    private List<PoolConfig>? BindPools(ConfigEntry service, ConfigEntry? entry, string name)
    {
        var example = "pools: { blue: [ 10.0.0.1:8080 ] }";
        if (entry is null)
        {
            Error(service.Key, $"service '{name}' has no pools; add one, e.g. {example}");
            return null;
        }
        var f = Fields(entry.Value, $"pools of service '{name}'", null);
        if (f is null) return null;
        if (f.Count == 0)
        {
            Error(entry.Key, $"service '{name}' has no pools; add one, e.g. {example}");
            return null;
        }
        var pools = new List<PoolConfig>();
        foreach (var (poolName, e) in f)
        {
            CheckName(e.Key, poolName, "pool");
            if (e.Value is ConfigMapping)
            {
                // The long form: { backends: [...], health_check: {...} }.
                var pf = Fields(e.Value, $"pool '{poolName}' in service '{name}'", PoolKeys);
                if (pf is null) continue;
                if (!pf.TryGetValue("backends", out var backends))
                {
                    Error(e.Key, $"pool '{poolName}' in service '{name}' needs backends, e.g. backends: [ 10.0.0.1:8080 ]");
                    continue;
                }
                pools.Add(new PoolConfig
                {
                    Name = poolName,
                    Backends = BindBackends(backends, poolName, name),
                    HealthCheck = pf.TryGetValue("health_check", out var phc) ? BindHealthCheck(phc, $"pool '{poolName}' in service '{name}'") : null,
                });
                continue;
            }
            pools.Add(new PoolConfig { Name = poolName, Backends = BindBackends(e, poolName, name) });
        }
        return pools;
    }

    private List<BackendConfig> BindBackends(ConfigEntry entry, string pool, string service)
    {
        var context = $"pool '{pool}' in service '{service}'";
        var result = new List<BackendConfig>();
        if (entry.Value is ConfigScalar { IsNull: true } or ConfigSequence { Items.Count: 0 })
        {
            Error(entry.Key, $"{context} has no backends; list at least one, e.g. - 10.0.0.1:8080");
            return result;
        }
        if (entry.Value is not ConfigSequence list)
        {
            Error(entry.Value, $"{context} must be a list of backends (- 10.0.0.1:8080), got {Describe(entry.Value)}");
            return result;
        }
        var seen = new Dictionary<IPEndPoint, ConfigNode>();
        foreach (var node in list.Items)
        {
            string? text = null;
            ConfigNode at = node;
            var weight = 1;
            if (node is ConfigScalar { IsNull: false } s)
            {
                text = s.Value;
            }
            else if (node is ConfigMapping)
            {
                var f = Fields(node, $"backend of {context}", BackendKeys);
                if (f is null) continue;
                if (f.TryGetValue("weight", out var w)) weight = Int(w, 0, MaxWeight, "weight") ?? 1;
                if (!f.TryGetValue("address", out var a))
                {
                    Error(node, $"backend of {context} needs an address, e.g. {{ address: 10.0.0.1:8080, weight: 1 }}");
                    continue;
                }
                text = Text(a, "an address, e.g. 10.0.0.1:8080");
                at = a.Value;
            }
            else
            {
                Error(node, $"a backend in {context} must be host:port or {{ address: host:port, weight: N }}, got {Describe(node)}");
            }
            if (text is null) continue;
            var address = Address(at, text, forBind: false, "backend address");
            if (address is null) continue;
            var ep = address.ToIPEndPoint()!;
            if (seen.TryGetValue(ep, out var first))
            {
                Error(at, $"duplicate backend {address} in {context}; first listed at line {first.Line}");
                continue;
            }
            seen.Add(ep, at);
            result.Add(new BackendConfig(address, weight));
        }
        return result;
    }

    /// <summary>Shares from active: (one pool at 100) or split: (weights); always complete over the service's pools.</summary>
    private Dictionary<string, int>? BindShares(ConfigEntry service, OrderedDictionary<string, ConfigEntry> f, List<PoolConfig> pools, string name)
    {
        var names = pools.Select(p => p.Name).ToList();
        var shares = names.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        var hasActive = f.TryGetValue("active", out var active);
        var hasSplit = f.TryGetValue("split", out var split);
        if (hasActive && hasSplit)
        {
            Error(split!.Key, $"service '{name}' sets both active and split; use active: POOL for one pool or split: {{ POOL: W, ... }} for several");
            return null;
        }
        if (hasActive)
        {
            var pool = Text(active!, "a pool name");
            if (pool is null || !CheckPool(active!.Value, pool, name, names)) return null;
            shares[pool] = 100;
            return shares;
        }
        if (hasSplit)
        {
            var sf = Fields(split!.Value, $"split of service '{name}'", null);
            if (sf is null) return null;
            var ok = true;
            var sum = 0L;
            foreach (var (pool, e) in sf)
            {
                if (!CheckPool(e.Key, pool, name, names))
                {
                    ok = false;
                    continue;
                }
                var weight = Int(e, 0, 100, $"share of pool '{pool}'");
                if (weight is null)
                {
                    ok = false;
                    continue;
                }
                shares[pool] = weight.Value;
                sum += weight.Value;
            }
            if (!ok) return null;
            if (sum != 100)
            {
                // Percentages, as ctl split and status show them.
                Error(split.Key, $"split of service '{name}': shares add up to {sum}, not 100 (percent of new traffic, e.g. {{ {names[0]}: 90{(names.Count > 1 ? $", {names[1]}: 10" : "")} }})");
                return null;
            }
            return shares;
        }
        if (names.Count == 1)
        {
            shares[names[0]] = 100;
            return shares;
        }
        Error(service.Key, $"service '{name}' has pools {Suggestions.List(names)}; say which takes traffic with active: POOL or split: {{ POOL: W, ... }}");
        return null;
    }

    private bool CheckPool(ConfigNode at, string pool, string service, List<string> names)
    {
        if (names.Contains(pool)) return true;
        Error(at, $"unknown pool '{pool}' in service '{service}'; pools are: {Suggestions.List(names)}{Suggestions.Hint(pool, names)}");
        return false;
    }
}
