using FastLb.Core.ProxyProtocol;
using FastLb.Core.Routing;

namespace FastLb.Core.Config;

/// <summary>One bind address and what to do with its connections.</summary>
internal sealed class ListenerConfig
{
    public required string Name { get; init; }
    public required EndPointConfig Bind { get; init; }
    public ListenerProtocol Protocol { get; init; } = ListenerProtocol.Http;

    /// <summary>HTTP only: routes in order, first match wins.</summary>
    public IReadOnlyList<RouteConfig> Routes { get; init; } = [];

    /// <summary>TCP only: the one service this listener forwards to.</summary>
    public string? Service { get; init; }

    /// <summary>Client connections this listener keeps open at once (<c>max_connections</c>); null = only the global limit.</summary>
    public int? MaxConnections { get; init; }

    /// <summary>What happens to a connection past a limit (<c>on_limit</c>; the top-level value unless set here).</summary>
    public OnLimit OnLimit { get; init; } = OnLimit.Queue;

    /// <summary>HTTP only: which peers are trusted proxies (trusted_proxies), and so who each request's client is.</summary>
    public ClientAddressRule ClientAddresses { get; init; } = ClientAddressRule.TrustNone;

    /// <summary>accept_proxy: read a PROXY protocol header first from these peers; null = never.</summary>
    public AcceptProxyConfig? AcceptProxy { get; init; }

    /// <summary>One line per request (HTTP) or connection (TCP), or null: off.</summary>
    public AccessLogConfig? AccessLog { get; init; }

    /// <summary>HTTP only: a request whose model cannot be read gets 400 instead of falling through to routes without a model match.</summary>
    public bool ModelRequired { get; init; }

    /// <summary>HTTP only: the most request body bytes read to find the model (<c>max_body_peek</c>).</summary>
    public int MaxBodyPeek { get; init; } = Json.JsonModelScanner.DefaultMaxBodyPeek;

    /// <summary>HTTP only: a request header that names the model and overrides the body (lower-case).</summary>
    public string ModelHeader { get; init; } = DefaultModelHeader;

    public const string DefaultModelHeader = "x-fastlb-model";

    /// <summary>HTTP only: <c>models:</c> aliases, matched before the routes.</summary>
    public IReadOnlyList<ModelAliasConfig> Models { get; init; } = [];

    /// <summary>`token_limits:` (http): token buckets per listener and per API key; null = no limit.</summary>
    public TokenLimitsConfig? TokenLimits { get; init; }

    /// <summary>HTTP only: how long routing waits for the body bytes that hold the model before it routes without one (<c>model_peek_timeout</c>).</summary>
    public TimeSpan ModelPeekTimeout { get; init; } = DefaultModelPeekTimeout;

    public static readonly TimeSpan DefaultModelPeekTimeout = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan DefaultHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>TCP only: pick the service by the TLS ClientHello's server name (passthrough); null = always <see cref="Service"/>.</summary>
    public IReadOnlyList<SniRouteConfig>? SniRoutes { get; init; }

    /// <summary>HTTP only: terminate TLS with these certificates (<c>tls</c>); null = plain HTTP.</summary>
    public TlsTerminationConfig? Tls { get; init; }

    /// <summary>How long a client has to send its whole ClientHello (sni_routes) or finish its TLS handshake.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = DefaultHandshakeTimeout;
}
