using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.Core.Diagnostics;

namespace FastLb.Core.Config;

/// <summary>Binds a <see cref="ConfigNode"/> tree to the config model, collecting every error instead of stopping at the first.</summary>
internal sealed partial class ConfigBinder(string file)
{
    private static readonly string[] TopKeys = ["workers", "pin_workers", "io", "log_format", "max_connections", "on_limit", "admin", "defaults", "listeners", "services"];
    private static readonly string[] OnLimitChoices = ["queue", "close"];
    private const int MaxConnectionsLimit = 100_000_000;
    private static readonly string[] LogFormats = ["text", "json"];
    private static readonly string[] AdminKeys = ["control_socket", "status_socket", "status_group", "listen", "upgrade_timeout"];
    private static readonly string[] DefaultsKeys =
    [
        "connect_timeout", "idle_timeout", "drain_timeout", "request_head_timeout",
        "response_head_timeout", "keepalive_timeout", "upstream_idle_timeout", "tcp_relay",
    ];
    private static readonly string[] TcpRelayModes = ["splice", "pipes"];

    /// <summary>
    /// Every key the binder accepts, per mapping (the arrays the unknown-key check uses), with the heading of
    /// docs/configuration.md that documents them. A new key goes into its mapping's array and under that heading;
    /// a new mapping's array is added here with a heading of its own (ConfigurationDocTests checks both).
    /// </summary>
    /// <remarks>A property, not a field: the arrays live in several partial files, whose static initializers run in no set order.</remarks>
    public static IReadOnlyList<(string DocSection, string[] Keys)> KnownKeys =>
    [
        ("Top level", TopKeys),
        ("admin", AdminKeys),
        ("defaults", DefaultsKeys),
        ("listeners", ListenerKeys),
        ("accept_proxy", AcceptProxyKeys),
        ("access_log", AccessLogKeys),
        ("sni_routes", SniRouteKeys),
        ("tls", TlsKeys),
        ("certificates", TlsCertificateKeys),
        ("client_auth", TlsClientAuthKeys),
        ("models", ModelAliasKeys),
        ("token_limits", TokenLimitsKeys),
        ("per_key", PerKeyKeys),
        ("routes", RouteKeys),
        ("match", MatchKeys),
        ("mirror", MirrorKeys),
        ("header and cookie", NameValueKeys),
        ("services", ServiceKeys),
        ("pools", PoolKeys),
        ("health_check", HealthCheckKeys),
        ("outlier", OutlierKeys),
        ("rollout", RolloutKeys),
        ("sticky_split", StickySplitKeys),
        ("fallback", FallbackKeys),
        ("backends", BackendKeys),
        ("upstream tls", UpstreamTlsKeys),
        ("client_cert", UpstreamClientCertKeys),
    ];

    // sun_path is 108 bytes on Linux, including the terminating NUL; the socket is bound as PATH.new first and renamed
    // into place (so a process upgrade can replace it atomically), which takes 4 more.
    private const int MaxSocketPathBytes = 103;
    private const int MaxWorkers = 1024;

    private readonly List<ConfigError> _errors = [];
    private readonly List<ConfigError> _warnings = [];
    private string? _baseDirectory; // the config file's folder: relative paths in it are resolved against it
    private OnLimit _onLimit = OnLimit.Queue; // the top-level on_limit, the default of every listener

    /// <summary>Errors found so far, in file order.</summary>
    public IReadOnlyList<ConfigError> Errors => [.. _errors.OrderBy(e => e.Line).ThenBy(e => e.Column)];

    /// <summary>Binds and validates the whole file; null when any error was found (see <see cref="Errors"/>).</summary>
    public FastLbConfig? Bind(ConfigNode? root, string sourcePath, string? baseDirectory)
    {
        if (root is null or ConfigScalar { IsNull: true })
        {
            Error(1, 1, "the file is empty; expected at least 'listeners:' and 'services:'");
            return null;
        }
        var top = Fields(root, "the top level", TopKeys);
        if (top is null) return null;
        _baseDirectory = baseDirectory;

        var workers = Environment.ProcessorCount;
        if (top.TryGetValue("workers", out var w) && Int(w, 1, MaxWorkers) is { } n) workers = n;
        var pinWorkers = false; // loops left to the scheduler unless the file pins them (docs/operations.md says why)
        if (top.TryGetValue("pin_workers", out var pw) && Bool(pw) is { } pin) pinWorkers = pin;
        var io = IoModeNames.Default;
        if (top.TryGetValue("io", out var iom) && IoModeNames.Parse(Choice(iom, IoModeNames.All)) is { } chosenIo) io = chosenIo;
        var logFormat = top.TryGetValue("log_format", out var lf) && Choice(lf, LogFormats) == "json" ? LogFormat.Json : LogFormat.Text;
        int? maxConnections = top.TryGetValue("max_connections", out var mc) ? Int(mc, 1, MaxConnectionsLimit) : null;
        var onLimit = top.TryGetValue("on_limit", out var ol) ? LimitAction(ol, OnLimit.Queue) : OnLimit.Queue;
        _onLimit = onLimit;
        var admin = BindAdmin(top.GetValueOrDefault("admin"), baseDirectory);
        var defaults = top.TryGetValue("defaults", out var d) ? BindDefaults(d) : new DefaultsConfig();
        // Services first: listeners and routes are checked against their names and pools.
        var services = BindServices(top.GetValueOrDefault("services"), defaults);
        var listeners = BindListeners(top.GetValueOrDefault("listeners"), root, admin);

        if (_errors.Count > 0) return null;
        return new FastLbConfig
        {
            SourcePath = sourcePath,
            Workers = workers,
            PinWorkers = pinWorkers,
            Io = io,
            LogFormat = logFormat,
            MaxConnections = maxConnections,
            OnLimit = onLimit,
            Admin = admin,
            Defaults = defaults,
            Listeners = listeners,
            Services = services,
            Warnings = [.. _warnings.OrderBy(e => e.Line).ThenBy(e => e.Column)],
        };
    }

    private AdminConfig BindAdmin(ConfigEntry? entry, string? baseDirectory)
    {
        var socket = new AdminConfig().ControlSocket;
        ConfigNode? socketAt = null;
        EndPointConfig? listen = null;
        var upgradeTimeout = AdminConfig.DefaultUpgradeTimeout;
        string? statusSocket = null;
        ConfigNode? statusAt = null;
        string? statusGroup = null;
        if (entry is not null && Fields(entry.Value, "admin", AdminKeys) is { } f)
        {
            upgradeTimeout = Timeout(f, "upgrade_timeout", upgradeTimeout);
            if (f.TryGetValue("status_socket", out var ss) && Text(ss, "a socket path, e.g. ./fastlb-status.sock") is { } statusPath)
            {
                statusSocket = statusPath;
                statusAt = ss.Value;
            }
            if (f.TryGetValue("status_group", out var sg) && Text(sg, "a group name or number, e.g. monitoring") is { } group)
            {
                if (statusSocket is null) Error(sg.Key, "status_group needs a status_socket to apply to");
                statusGroup = group;
            }
            if (f.TryGetValue("control_socket", out var cs) && Text(cs, "a socket path, e.g. ./fastlb.sock") is { } path)
            {
                socket = path;
                socketAt = cs.Value;
            }
            if (f.TryGetValue("listen", out var l) && Text(l, "an address, e.g. 127.0.0.1:9901") is { } text)
            {
                listen = Address(l.Value, text, forBind: true, "admin listen");
                if (listen is not null) _adminListen = (listen, l.Value);
            }
        }
        if (baseDirectory is not null && !Path.IsPathRooted(socket))
        {
            socket = Path.GetFullPath(Path.Combine(baseDirectory, socket));
        }
        if (socketAt is not null && Encoding.UTF8.GetByteCount(socket) > MaxSocketPathBytes)
        {
            Error(socketAt, $"control_socket path '{socket}' is {Encoding.UTF8.GetByteCount(socket)} bytes; control socket paths must be at most {MaxSocketPathBytes} (the Unix limit less 4 for the '.new' name it is created under)");
        }
        if (statusSocket is not null)
        {
            if (baseDirectory is not null && !Path.IsPathRooted(statusSocket)) statusSocket = Path.GetFullPath(Path.Combine(baseDirectory, statusSocket));
            if (Encoding.UTF8.GetByteCount(statusSocket) > MaxSocketPathBytes)
            {
                Error(statusAt!, $"status_socket path '{statusSocket}' is {Encoding.UTF8.GetByteCount(statusSocket)} bytes; socket paths must be at most {MaxSocketPathBytes} (the Unix limit less 4 for the '.new' name it is created under)");
            }
            else if (statusSocket == socket)
            {
                Error(statusAt!, $"status_socket must differ from control_socket ('{socket}')");
            }
        }
        return new AdminConfig
        {
            ControlSocket = socket, StatusSocket = statusSocket, StatusGroup = statusGroup, Listen = listen, UpgradeTimeout = upgradeTimeout,
        };
    }

    private DefaultsConfig BindDefaults(ConfigEntry entry)
    {
        var d = new DefaultsConfig();
        var f = Fields(entry.Value, "defaults", DefaultsKeys);
        if (f is null) return d;
        return new DefaultsConfig
        {
            ConnectTimeout = Timeout(f, "connect_timeout", d.ConnectTimeout),
            IdleTimeout = Timeout(f, "idle_timeout", d.IdleTimeout),
            DrainTimeout = Timeout(f, "drain_timeout", d.DrainTimeout),
            RequestHeadTimeout = Timeout(f, "request_head_timeout", d.RequestHeadTimeout),
            ResponseHeadTimeout = Timeout(f, "response_head_timeout", d.ResponseHeadTimeout),
            KeepAliveTimeout = Timeout(f, "keepalive_timeout", d.KeepAliveTimeout),
            UpstreamIdleTimeout = Timeout(f, "upstream_idle_timeout", d.UpstreamIdleTimeout),
            TcpRelay = f.TryGetValue("tcp_relay", out var relay) ? RelayMode(relay, d.TcpRelay) : d.TcpRelay,
        };
    }

    private OnLimit LimitAction(ConfigEntry entry, OnLimit fallback) => Choice(entry, OnLimitChoices) switch
    {
        "queue" => OnLimit.Queue,
        "close" => OnLimit.Close,
        _ => fallback, // Choice reported the error.
    };

    private TcpRelayMode RelayMode(ConfigEntry entry, TcpRelayMode fallback) => Choice(entry, TcpRelayModes) switch
    {
        "splice" => TcpRelayMode.Splice,
        "pipes" => TcpRelayMode.Pipes,
        _ => fallback, // Choice reported the error.
    };

    // ---- generic readers: each reports its own error and returns null on failure ----

    /// <summary>A mapping's entries by key; reports non-name keys, duplicate keys and, when <paramref name="allowed"/> is given, unknown keys.</summary>
    private OrderedDictionary<string, ConfigEntry>? Fields(ConfigNode node, string context, string[]? allowed)
    {
        var fields = new OrderedDictionary<string, ConfigEntry>(StringComparer.Ordinal);
        if (node is ConfigScalar { IsNull: true }) return fields;
        if (node is not ConfigMapping map)
        {
            var keys = allowed is null ? "" : $" with keys {string.Join(", ", allowed)}";
            Error(node, $"{context} must be a mapping{keys}, got {node.Describe()}");
            return null;
        }
        List<(string Closest, ConfigEntry Entry)>? misspelled = null;
        foreach (var e in map.Entries)
        {
            if (e.Key is not ConfigScalar { IsNull: false } key)
            {
                Error(e.Key, $"keys in {context} must be plain names, got {e.Key.Describe()}");
                continue;
            }
            if (allowed is not null && Array.IndexOf(allowed, key.Value) < 0)
            {
                var closest = Suggestions.Closest(key.Value, allowed);
                Error(key, closest is null
                    ? $"unknown key '{key.Value}' in {context}; expected one of: {string.Join(", ", allowed)}"
                    : $"unknown key '{key.Value}' in {context}; did you mean '{closest}'?");
                if (closest is not null) (misspelled ??= []).Add((closest, e));
                continue;
            }
            if (fields.TryGetValue(key.Value, out var first))
            {
                Error(key, $"duplicate key '{key.Value}' in {context}; first set at line {first.Key.Line}");
                continue;
            }
            fields.Add(key.Value, e);
        }
        // Read a misspelled key as the key it was meant to be, so a typo in 'bind' does not also report a missing bind.
        foreach (var (closest, e) in misspelled ?? [])
        {
            fields.TryAdd(closest, e);
        }
        return fields;
    }

    /// <summary>The entry's non-empty scalar value.</summary>
    private string? Text(ConfigEntry entry, string expected)
    {
        if (entry.Value is ConfigScalar { IsNull: false } s && s.Value.Length > 0) return s.Value;
        // An empty value sits after the colon; the key is the clearer place to point at.
        var at = entry.Value is ConfigScalar ? entry.Key : entry.Value;
        Error(at, $"{KeyOf(entry)} must be {expected}, got {Describe(entry.Value)}");
        return null;
    }

    private int? Int(ConfigEntry entry, int min, int max, string? label = null)
    {
        var what = label ?? KeyOf(entry);
        var text = Text(entry, $"an integer from {min} to {max}");
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            Error(entry.Value, $"{what} must be an integer from {min} to {max}, got '{text}'");
            return null;
        }
        return n;
    }

    private bool? Bool(ConfigEntry entry)
    {
        var text = Text(entry, "true or false");
        if (text is null) return null;
        if (string.Equals(text, "true", StringComparison.OrdinalIgnoreCase)) return true;
        if (string.Equals(text, "false", StringComparison.OrdinalIgnoreCase)) return false;
        Error(entry.Value, $"{KeyOf(entry)} must be true or false, got '{text}'");
        return null;
    }

    private TimeSpan? Duration(ConfigEntry entry)
    {
        var key = KeyOf(entry);
        var text = Text(entry, $"a duration, e.g. {ConfigDuration.Examples}");
        if (text is null) return null;
        if (!ConfigDuration.TryParse(text, out var value))
        {
            Error(entry.Value, $"{key}: '{text}' is not a duration; expected e.g. {ConfigDuration.Examples}");
            return null;
        }
        // drain_timeout: 0s means "close draining connections at once", slow_start: 0s means off; every other duration must be positive.
        if (value == TimeSpan.Zero && key is not ("drain_timeout" or "slow_start"))
        {
            Error(entry.Value, $"{key} must be more than 0, got '{text}'");
            return null;
        }
        return value;
    }

    private TimeSpan Timeout(OrderedDictionary<string, ConfigEntry> fields, string key, TimeSpan fallback) =>
        fields.TryGetValue(key, out var e) && Duration(e) is { } value ? value : fallback;

    /// <summary>One of <paramref name="choices"/>, with a did-you-mean hint on a near miss.</summary>
    private string? Choice(ConfigEntry entry, string[] choices)
    {
        var text = Text(entry, OneOf(choices));
        if (text is null) return null;
        if (Array.IndexOf(choices, text) >= 0) return text;
        Error(entry.Value, $"{KeyOf(entry)} must be {OneOf(choices)}, got '{text}'{Suggestions.Hint(text, choices)}");
        return null;
    }

    /// <summary>Parses host:port; listeners may bind an IP, '*' or localhost, backends must be an IP or localhost.</summary>
    private EndPointConfig? Address(ConfigNode at, string text, bool forBind, string what)
    {
        var ep = EndPointConfig.TryParse(text, out var error);
        if (ep is null)
        {
            Error(at, $"{what}: {error}");
            return null;
        }
        if (forBind)
        {
            if (ep.Host != "*" && !IsIpOrLocalhost(ep.Host))
            {
                Error(at, $"{what} '{text}' must be an IP address, '*' or localhost, not a host name");
                return null;
            }
        }
        else
        {
            if (!IsIpOrLocalhost(ep.Host))
            {
                Error(at, $"{what} '{text}' must be an IP address or localhost: FastLb connects to IPs and does not resolve host names");
                return null;
            }
            if (ep.Port == 0)
            {
                Error(at, $"{what} '{text}' needs a port from 1 to 65535");
                return null;
            }
        }
        return ep;
    }

    private static bool IsIpOrLocalhost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (!IPAddress.TryParse(host, out var ip)) return false;
        // IPAddress.TryParse also takes "10.1" and "167772161"; insist on the dotted quad people mean.
        return ip.AddressFamily == AddressFamily.InterNetworkV6 ? host.Contains(':') : host.Split('.').Length == 4;
    }

    /// <summary>Names appear on the ctl command line (split web blue=90), so keep them to a safe alphabet.</summary>
    private bool CheckName(ConfigNode at, string name, string what)
    {
        var ok = name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]);
        foreach (var c in name)
        {
            ok &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
        }
        if (!ok) Error(at, $"{what} name '{name}' must start with a letter or digit and use only letters, digits, '-', '_' and '.'");
        return ok;
    }

    /// <summary>An HTTP token (RFC 9110 5.6.2): method and header names.</summary>
    private static bool IsToken(string text)
    {
        if (text.Length == 0) return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && "!#$%&'*+-.^_`|~".IndexOf(c) < 0) return false;
        }
        return true;
    }

    private static string KeyOf(ConfigEntry entry) => entry.Key is ConfigScalar s ? s.Value : "value";

    private static string Describe(ConfigNode node) =>
        node is ConfigScalar { IsNull: false, Value.Length: 0 } ? "an empty value" : node.Describe();

    private static string OneOf(string[] choices) =>
        choices.Length == 1 ? choices[0] : string.Join(", ", choices[..^1]) + " or " + choices[^1];

    private void Error(ConfigNode at, string message) => Error(at.Line, at.Column, message);

    private void Error(int line, int column, string message) =>
        _errors.Add(new ConfigError(file, Math.Max(line, 1), Math.Max(column, 1), message));

    /// <summary>Something the operator should act on soon that still loads (a certificate about to expire).</summary>
    private void Warning(ConfigNode at, string message) =>
        _warnings.Add(new ConfigError(file, Math.Max(at.Line, 1), Math.Max(at.Column, 1), message, IsWarning: true));
}
