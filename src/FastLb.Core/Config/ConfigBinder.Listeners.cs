using System.Net;
using FastLb.Core.ProxyProtocol;
using FastLb.Core.Routing;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] ListenerKeys = ["name", "bind", "protocol", "routes", "service", "trusted_proxies", "accept_proxy", "sni_routes", "tls", "handshake_timeout", "access_log", "max_connections", "on_limit", "model_required", "max_body_peek", "model_header", "model_peek_timeout", "models", "token_limits"];
    private static readonly string[] SniRouteKeys = ["sni", "service"];
    private static readonly string[] AcceptProxyKeys = ["versions", "trusted", "timeout"];
    private static readonly string[] AccessLogKeys = ["path", "format", "sample", "log_query"];
    private static readonly string[] AccessLogFormats = ["text", "json"];
    private static readonly string[] ProtocolNames = ["http", "tcp"];
    private static readonly string[] RouteKeys = ["match", "service", "pool", "mirror"];
    private static readonly string[] MatchKeys = ["host", "path_prefix", "path", "method", "header", "cookie", "model", "model_prefix"];
    private static readonly string[] NameValueKeys = ["name", "value"];

    private (EndPointConfig Bind, ConfigNode At)? _adminListen;

    private List<ListenerConfig> BindListeners(ConfigEntry? entry, ConfigNode root, AdminConfig admin)
    {
        var result = new List<ListenerConfig>();
        if (entry is null || entry.Value is ConfigScalar { IsNull: true } or ConfigSequence { Items.Count: 0 })
        {
            Error(entry?.Key ?? root, "no listeners; define at least one under 'listeners:' with a name, a bind address and a protocol");
            return result;
        }
        if (entry.Value is not ConfigSequence list)
        {
            Error(entry.Value, $"listeners must be a list (- name: web ...), got {Describe(entry.Value)}");
            return result;
        }
        var names = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        var binds = new List<(EndPointConfig Bind, string Owner)>();
        if (_adminListen is { } al) binds.Add((al.Bind, "admin listen"));
        for (var i = 0; i < list.Items.Count; i++)
        {
            var listener = BindListener(list.Items[i], i + 1, names, binds);
            if (listener is not null) result.Add(listener);
        }
        return result;
    }

    private ListenerConfig? BindListener(ConfigNode node, int index, Dictionary<string, ConfigNode> names, List<(EndPointConfig Bind, string Owner)> binds)
    {
        var peeked = (node as ConfigMapping)?.Peek("name");
        var context = peeked is null ? $"listener {index}" : $"listener '{peeked}'";
        if (node is ConfigScalar { IsNull: true })
        {
            Error(node, $"{context} is empty; expected a mapping with keys {string.Join(", ", ListenerKeys)}");
            return null;
        }
        var f = Fields(node, context, ListenerKeys);
        if (f is null) return null;
        var before = _errors.Count;

        string? name = null;
        if (!f.TryGetValue("name", out var nameEntry))
        {
            Error(node, $"{context} needs a name, e.g. name: web");
        }
        else if (Text(nameEntry, "a name") is { } n && CheckName(nameEntry.Value, n, "listener"))
        {
            name = n;
            if (names.TryGetValue(n, out var first))
            {
                Error(nameEntry.Value, $"duplicate listener name '{n}'; first defined at line {first.Line}");
            }
            else
            {
                names.Add(n, nameEntry.Value);
            }
        }

        EndPointConfig? bind = null;
        if (!f.TryGetValue("bind", out var bindEntry))
        {
            Error(node, $"{context} needs a bind address, e.g. bind: 0.0.0.0:8080");
        }
        else if (Text(bindEntry, "an address, e.g. 0.0.0.0:8080") is { } text)
        {
            bind = Address(bindEntry.Value, text, forBind: true, "bind");
            if (bind is not null) CheckBindConflict(bindEntry.Value, bind, context, binds);
        }

        ListenerProtocol? protocol = ListenerProtocol.Http;
        if (f.TryGetValue("protocol", out var protocolEntry))
        {
            protocol = Choice(protocolEntry, ProtocolNames) switch
            {
                "http" => ListenerProtocol.Http,
                "tcp" => ListenerProtocol.Tcp,
                _ => null,
            };
        }

        IReadOnlyList<RouteConfig> routes = [];
        string? service = null;
        f.TryGetValue("routes", out var routesEntry);
        f.TryGetValue("service", out var serviceEntry);
        if (protocol == ListenerProtocol.Http)
        {
            if (serviceEntry is not null)
            {
                Error(serviceEntry.Key, $"'service' is only for tcp listeners; http {context} sends requests through routes, e.g. routes: [ {{ service: NAME }} ]");
            }
            if (routesEntry is null || routesEntry.Value is ConfigScalar { IsNull: true } or ConfigSequence { Items.Count: 0 })
            {
                Error(routesEntry?.Key ?? node, $"http {context} has no routes; add at least one, e.g. routes: [ {{ service: NAME }} ]");
            }
            else
            {
                routes = BindRoutes(routesEntry, context);
            }
        }
        IReadOnlyList<SniRouteConfig>? sniRoutes = null;
        f.TryGetValue("sni_routes", out var sniEntry);
        if (protocol == ListenerProtocol.Http && sniEntry is not null)
        {
            Error(sniEntry.Key, $"'sni_routes' are only for tcp listeners (TLS passthrough); http {context} routes requests with 'routes'");
        }
        else if (protocol == ListenerProtocol.Tcp)
        {
            if (routesEntry is not null)
            {
                Error(routesEntry.Key, $"'routes' are only for http listeners; tcp {context} forwards every connection to its one 'service'");
            }
            if (serviceEntry is not null && sniEntry is not null)
            {
                Error(sniEntry.Key, $"tcp {context} has both 'service' and 'sni_routes'; use one: sni_routes picks the service by TLS server name (a route without sni is the default)");
            }
            else if (sniEntry is not null)
            {
                sniRoutes = BindSniRoutes(sniEntry, context);
            }
            else if (serviceEntry is null)
            {
                Error(node, $"tcp {context} needs a service: the one service it forwards connections to (or sni_routes to pick one by TLS server name)");
            }
            else if (Text(serviceEntry, "a service name") is { } s && CheckService(serviceEntry.Value, s, context))
            {
                service = s;
            }
        }

        var clientAddresses = ClientAddressRule.TrustNone;
        if (f.TryGetValue("trusted_proxies", out var trustedEntry))
        {
            if (protocol == ListenerProtocol.Tcp)
            {
                Error(trustedEntry.Key, $"'trusted_proxies' is only for http listeners; tcp {context} reads no forwarded headers");
            }
            else if (BindTrustedProxies(trustedEntry, context) is { } networks)
            {
                clientAddresses = new ClientAddressRule(networks);
            }
        }

        var acceptProxy = f.TryGetValue("accept_proxy", out var acceptProxyEntry) ? BindAcceptProxy(acceptProxyEntry, context) : null;
        var accessLog = f.TryGetValue("access_log", out var accessEntry) ? BindAccessLog(accessEntry, context) : null;
        int? maxConnections = f.TryGetValue("max_connections", out var mc) ? Int(mc, 1, MaxConnectionsLimit) : null;
        var onLimit = f.TryGetValue("on_limit", out var ol) ? LimitAction(ol, _onLimit) : _onLimit;
        var handshakeTimeout = Timeout(f, "handshake_timeout", ListenerConfig.DefaultHandshakeTimeout);
        var (modelRequired, maxBodyPeek, modelHeader) = BindModelOptions(f, protocol, context);
        var modelPeekTimeout = Timeout(f, "model_peek_timeout", ListenerConfig.DefaultModelPeekTimeout);
        var modelAliases = BindModelAliases(f, protocol, context);
        var tokenLimits = f.TryGetValue("token_limits", out var tokenEntry) ? BindTokenLimits(tokenEntry, protocol, context) : null;
        TlsTerminationConfig? tls = null;
        if (f.TryGetValue("tls", out var tlsEntry))
        {
            if (protocol == ListenerProtocol.Tcp) Error(tlsEntry.Key, $"'tls' (termination) is only for http listeners; tcp {context} relays TLS untouched (see sni_routes)");
            else tls = BindTls(tlsEntry, context);
        }

        if (_errors.Count > before || name is null || bind is null || protocol is null) return null;
        return new ListenerConfig
        {
            Name = name, Bind = bind, Protocol = protocol.Value, Routes = routes, Service = service, ClientAddresses = clientAddresses,
            AcceptProxy = acceptProxy, SniRoutes = sniRoutes, HandshakeTimeout = handshakeTimeout, Tls = tls,
            AccessLog = accessLog,
            MaxConnections = maxConnections, OnLimit = onLimit,
            ModelRequired = modelRequired, MaxBodyPeek = maxBodyPeek, ModelHeader = modelHeader,
            ModelPeekTimeout = modelPeekTimeout, Models = modelAliases, TokenLimits = tokenLimits,
        };
    }

    /// <summary>sni_routes: [{ sni: NAME | "*.SUFFIX", service }], a route without sni being the default.</summary>
    private List<SniRouteConfig> BindSniRoutes(ConfigEntry entry, string listener)
    {
        var result = new List<SniRouteConfig>();
        if (entry.Value is not ConfigSequence { Items.Count: > 0 } list)
        {
            Error(entry.Value, $"sni_routes of {listener} must be a list, e.g. [ {{ sni: api.example.com, service: api }}, {{ service: web }} ], got {Describe(entry.Value)}");
            return result;
        }
        var names = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        ConfigNode? defaultAt = null;
        for (var i = 0; i < list.Items.Count; i++)
        {
            var context = $"sni route {i + 1} of {listener}";
            var f = Fields(list.Items[i], context, SniRouteKeys);
            if (f is null) continue;
            string? sni = null;
            if (f.TryGetValue("sni", out var sniEntry) && Text(sniEntry, "a server name, e.g. api.example.com or *.example.com") is { } text)
            {
                sni = text.ToLowerInvariant();
                if (!IsServerName(sni))
                {
                    Error(sniEntry.Value, $"sni '{text}' of {context} is not a server name; write a DNS name (api.example.com) or a wildcard for one label (*.example.com)");
                    sni = null;
                }
                else if (names.TryGetValue(sni, out var first))
                {
                    Error(sniEntry.Value, $"sni '{text}' of {context} is already routed at line {first.Line}");
                }
                else
                {
                    names.Add(sni, sniEntry.Value);
                }
            }
            else if (sniEntry is null)
            {
                if (defaultAt is not null) Error(list.Items[i], $"{context} is a second default (no sni); the first is at line {defaultAt.Line}");
                defaultAt = list.Items[i];
            }
            if (!f.TryGetValue("service", out var serviceEntry))
            {
                Error(list.Items[i], $"{context} needs a service, e.g. service: web");
            }
            else if (Text(serviceEntry, "a service name") is { } s && CheckService(serviceEntry.Value, s, context) && (sni is not null || sniEntry is null))
            {
                result.Add(new SniRouteConfig(sni, s));
            }
        }
        return result;
    }

    /// <summary>A DNS name, or "*." and a DNS name: letters, digits, '-' and '_' in labels of 1–63, at most 253 in all.</summary>
    private static bool IsServerName(string name)
    {
        var host = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        if (host.Length is 0 or > 253) return false;
        foreach (var label in host.Split('.'))
        {
            if (label.Length is 0 or > 63) return false;
            if (!label.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_')) return false;
        }
        return true;
    }

    /// <summary>accept_proxy: { versions: [v1, v2], trusted: [CIDR...], timeout }; every key optional.</summary>
    private AcceptProxyConfig? BindAcceptProxy(ConfigEntry entry, string listener)
    {
        var context = $"accept_proxy of {listener}";
        var f = Fields(entry.Value, context, AcceptProxyKeys);
        if (f is null) return null;
        var versions = ProxyVersions.Both;
        if (f.TryGetValue("versions", out var versionsEntry))
        {
            versions = ProxyVersions.None;
            if (versionsEntry.Value is not ConfigSequence { Items.Count: > 0 } list)
            {
                Error(versionsEntry.Value, $"versions of {context} must be a list of v1 and/or v2, e.g. [v1, v2], got {Describe(versionsEntry.Value)}");
                return null;
            }
            foreach (var item in list.Items)
            {
                var text = (item as ConfigScalar)?.Value;
                if (text == "v1") versions |= ProxyVersions.V1;
                else if (text == "v2") versions |= ProxyVersions.V2;
                else Error(item, $"versions of {context}: {item.Describe()} is not a PROXY protocol version; expected v1 or v2");
            }
        }
        IReadOnlyList<IPNetwork> trusted = [];
        if (f.TryGetValue("trusted", out var trustedEntry) && BindTrustedProxies(trustedEntry, context, "trusted") is { } networks)
        {
            trusted = networks;
        }
        return new AcceptProxyConfig { Versions = versions, Trusted = trusted, Timeout = Timeout(f, "timeout", AcceptProxyConfig.DefaultTimeout) };
    }

    /// <summary>access_log: { path: FILE | stdout, format: text | json, sample: 0..1, log_query: bool }.</summary>
    private AccessLogConfig? BindAccessLog(ConfigEntry entry, string listener)
    {
        var f = Fields(entry.Value, $"access_log of {listener}", AccessLogKeys);
        if (f is null) return null;
        if (!f.TryGetValue("path", out var pathEntry))
        {
            Error(entry.Key, $"access_log of {listener} needs a path: a file (e.g. /var/log/fastlb/access.log) or stdout");
            return null;
        }
        var path = Text(pathEntry, "a file path or stdout");
        if (path is null) return null;
        if (path != AccessLogConfig.StdoutPath)
        {
            if (_baseDirectory is not null && !Path.IsPathRooted(path)) path = Path.GetFullPath(Path.Combine(_baseDirectory, path));
            var folder = Path.GetDirectoryName(path);
            if (string.IsNullOrEmpty(Path.GetFileName(path)))
            {
                Error(pathEntry.Value, $"access_log path '{path}' names a folder; give a file, e.g. {path.TrimEnd('/')}/access.log");
                return null;
            }
            if (_baseDirectory is not null && folder is not null && !Directory.Exists(folder))
            {
                Error(pathEntry.Value, $"access_log path '{path}': folder '{folder}' does not exist"); // the other keys are checked still
            }
        }
        var format = AccessLogFormat.Text;
        if (f.TryGetValue("format", out var formatEntry) && Choice(formatEntry, AccessLogFormats) == "json") format = AccessLogFormat.Json;
        var sample = 1.0;
        if (f.TryGetValue("sample", out var sampleEntry) && Text(sampleEntry, "a number from 0 to 1") is { } sampleText)
        {
            if (!double.TryParse(sampleText, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out sample)
                || sample is < 0 or > 1)
            {
                Error(sampleEntry.Value, $"sample must be a number from 0 to 1 (the share of requests logged, e.g. 0.1), got '{sampleText}'");
                sample = 1.0;
            }
        }
        var logQuery = f.TryGetValue("log_query", out var queryEntry) && Bool(queryEntry) == true;
        return new AccessLogConfig { Path = path, Format = format, Sample = sample, LogQuery = logQuery };
    }

    /// <summary>trusted_proxies: a list of CIDRs (10.0.0.0/8, 2001:db8::/32) or single addresses.</summary>
    private List<IPNetwork>? BindTrustedProxies(ConfigEntry entry, string listener, string key = "trusted_proxies")
    {
        if (entry.Value is ConfigScalar { IsNull: true }) return [];
        if (entry.Value is not ConfigSequence list)
        {
            Error(entry.Value, $"{key} of {listener} must be a list of CIDRs, e.g. [10.0.0.0/8, 192.168.1.7], got {Describe(entry.Value)}");
            return null;
        }
        var result = new List<IPNetwork>();
        foreach (var item in list.Items)
        {
            if (item is ConfigScalar { IsNull: false } s && TryParseNetwork(s.Value.Trim(), out var network))
            {
                result.Add(network);
                continue;
            }
            Error(item, $"{key} of {listener}: {item.Describe()} is not an address or CIDR (prefix bits only, e.g. 10.0.0.0/8, 2001:db8::/32, 192.168.1.7)");
        }
        return result;
    }

    private static bool TryParseNetwork(string text, out IPNetwork network)
    {
        var slash = text.IndexOf('/');
        if (slash >= 0)
        {
            // Host bits past the prefix (10.0.0.1/8) are a typo for either the address or the network: refuse both readings.
            return IPNetwork.TryParse(text, out network) && IPAddress.TryParse(text.AsSpan(0, slash), out var given) && network.BaseAddress.Equals(given);
        }
        network = default;
        if (!IPAddress.TryParse(text, out var address)) return false;
        network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    /// <summary>Two binds clash on the same port when their IPs are equal or either is a wildcard; port 0 never clashes.</summary>
    private void CheckBindConflict(ConfigNode at, EndPointConfig bind, string owner, List<(EndPointConfig Bind, string Owner)> binds)
    {
        var ep = bind.ToIPEndPoint();
        if (ep is not null && ep.Port != 0)
        {
            foreach (var (other, otherOwner) in binds)
            {
                var o = other.ToIPEndPoint();
                if (o is null || o.Port != ep.Port) continue;
                if (o.Address.Equals(ep.Address) || IsWildcard(o.Address) || IsWildcard(ep.Address))
                {
                    Error(at, $"bind {bind} of {owner} clashes with {otherOwner} ({other}); every listener needs its own address and port");
                    break;
                }
            }
        }
        binds.Add((bind, owner));
    }

    private static bool IsWildcard(IPAddress ip) => ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);

    private List<RouteConfig> BindRoutes(ConfigEntry entry, string listener)
    {
        var result = new List<RouteConfig>();
        if (entry.Value is not ConfigSequence list)
        {
            Error(entry.Value, $"routes of {listener} must be a list (- match: ... service: NAME), got {Describe(entry.Value)}");
            return result;
        }
        var catchAll = 0;
        for (var i = 0; i < list.Items.Count; i++)
        {
            var node = list.Items[i];
            var context = $"route {i + 1} of {listener}";
            if (node is ConfigScalar { IsNull: true })
            {
                Error(node, $"{context} is empty; expected a mapping with keys {string.Join(", ", RouteKeys)}");
                continue;
            }
            var f = Fields(node, context, RouteKeys);
            if (f is null) continue;
            var before = _errors.Count;

            var match = f.TryGetValue("match", out var m) ? BindMatch(m, context) : RouteMatchConfig.Any;
            var matchOk = _errors.Count == before;
            string? service = null;
            if (!f.TryGetValue("service", out var serviceEntry))
            {
                Error(node, $"{context} needs a service, e.g. service: web");
            }
            else if (Text(serviceEntry, "a service name") is { } s && CheckService(serviceEntry.Value, s, context))
            {
                service = s;
            }
            string? pool = null;
            if (f.TryGetValue("pool", out var poolEntry) && Text(poolEntry, "a pool name") is { } p)
            {
                pool = p;
                if (service is not null && _servicePools[service] is { } pools && !pools.Contains(p))
                {
                    Error(poolEntry.Value, $"unknown pool '{p}' in service '{service}' ({context}); pools are: {Suggestions.List(pools)}{Suggestions.Hint(p, pools)}");
                }
            }
            MirrorConfig? mirror = null;
            if (f.TryGetValue("mirror", out var mirrorEntry)) mirror = BindMirror(mirrorEntry, context, service);
            if (catchAll > 0)
            {
                Error(node, $"{context} can never match: route {catchAll} before it matches every request; put catch-all routes last");
            }
            else if (match.IsCatchAll && matchOk)
            {
                catchAll = i + 1;
            }
            if (_errors.Count == before && service is not null)
            {
                result.Add(new RouteConfig { Match = match, Service = service, Pool = pool, Mirror = mirror });
            }
        }
        return result;
    }

    private RouteMatchConfig BindMatch(ConfigEntry entry, string route)
    {
        var context = $"match of {route}";
        var f = Fields(entry.Value, context, MatchKeys);
        if (f is null || f.Count == 0) return RouteMatchConfig.Any;

        string? host = null;
        if (f.TryGetValue("host", out var h) && Text(h, "a host name, e.g. api.example.com") is { } hostText)
        {
            host = hostText.ToLowerInvariant();
            var star = host.LastIndexOf('*');
            if (host.Any(c => char.IsWhiteSpace(c) || c is '/' or '?' or '#'))
            {
                Error(h.Value, $"host '{hostText}' is not a host name; write only the name, e.g. api.example.com (no scheme or path)");
            }
            else if (star > 0 || (star == 0 && (host.Length < 3 || host[1] != '.')))
            {
                Error(h.Value, $"host '{hostText}' may use '*' only as the whole first label, e.g. *.example.com");
            }
        }
        var pathPrefix = PathValue(f, "path_prefix");
        var path = PathValue(f, "path");
        string? method = null;
        if (f.TryGetValue("method", out var me) && Text(me, "an HTTP method, e.g. GET") is { } methodText)
        {
            if (IsToken(methodText))
            {
                method = methodText.ToUpperInvariant();
            }
            else
            {
                Error(me.Value, $"method '{methodText}' is not an HTTP method; expected a token such as GET or POST");
            }
        }
        return new RouteMatchConfig
        {
            Host = host,
            PathPrefix = pathPrefix,
            Path = path,
            Method = method,
            Header = NameValue(f, "header", context),
            Cookie = NameValue(f, "cookie", context),
            Models = ModelNames(f, "model", context),
            ModelPrefixes = ModelNames(f, "model_prefix", context),
        };
    }

    private string? PathValue(OrderedDictionary<string, ConfigEntry> f, string key)
    {
        if (!f.TryGetValue(key, out var e) || Text(e, "a path starting with '/'") is not { } text) return null;
        if (text[0] != '/')
        {
            Error(e.Value, $"{key} must start with '/', got '{text}'");
            return null;
        }
        return text;
    }

    /// <summary>header: / cookie: { name, value? }; a missing value means "present with any value".</summary>
    private NameValueMatch? NameValue(OrderedDictionary<string, ConfigEntry> f, string key, string match)
    {
        if (!f.TryGetValue(key, out var e)) return null;
        var example = $"{key}: {{ name: x-pool, value: green }}";
        var nv = Fields(e.Value, $"{key} of {match}", NameValueKeys);
        if (nv is null) return null;
        if (!nv.TryGetValue("name", out var nameEntry))
        {
            Error(e.Key, $"{key} match needs a name, e.g. {example}");
            return null;
        }
        var name = Text(nameEntry, $"a {key} name");
        if (name is null) return null;
        if (!IsToken(name))
        {
            Error(nameEntry.Value, $"'{name}' is not a valid {key} name; use letters, digits and -_.!#$%&'*+^`|~");
            return null;
        }
        string? value = null;
        if (nv.TryGetValue("value", out var valueEntry) && valueEntry.Value is not ConfigScalar { IsNull: true })
        {
            if (valueEntry.Value is ConfigScalar s)
            {
                value = s.Value;
            }
            else
            {
                Error(valueEntry.Value, $"{key} value must be a single value, got {Describe(valueEntry.Value)}");
                return null;
            }
        }
        // Header names are case-insensitive, so store them lowercase; cookie names are case-sensitive.
        return new NameValueMatch(key == "header" ? name.ToLowerInvariant() : name, value);
    }

    private bool CheckService(ConfigNode at, string service, string where)
    {
        if (_servicePools.ContainsKey(service)) return true;
        var known = _serviceNames.Count == 0 ? "no services are defined" : $"services are: {Suggestions.List(_serviceNames)}";
        Error(at, $"unknown service '{service}' in {where}; {known}{Suggestions.Hint(service, _serviceNames)}");
        return false;
    }
}
