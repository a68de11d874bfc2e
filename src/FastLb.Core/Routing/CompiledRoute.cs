using System.Text;
using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>One HTTP route of one table generation, with its conditions pre-encoded as bytes.</summary>
internal sealed class CompiledRoute
{
    private readonly byte[]? _host;          // exact host, lower-case
    private readonly byte[]? _hostSuffix;    // ".example.com" for "*.example.com"
    private readonly byte[]? _pathPrefix;
    private readonly byte[]? _path;
    private readonly byte[]? _method;
    private readonly byte[]? _headerName;
    private readonly byte[]? _headerValue;
    private readonly byte[]? _cookieName;
    private readonly byte[]? _cookieValue;
    private readonly byte[][]? _models;       // UTF-8
    private readonly byte[][]? _modelPrefixes;
    private readonly string[]? _modelLabels;  // per-model metrics labels, parallel to _models and _modelPrefixes
    private readonly string[]? _prefixLabels;

    public CompiledRoute(RouteConfig config, ServiceSnapshot service, PoolSnapshot? pinnedPool, int number = 0)
    {
        Config = config;
        Number = number;
        Service = service;
        PinnedPool = pinnedPool;
        var m = config.Match;
        if (m.Host is { } host)
        {
            var lower = host.ToLowerInvariant();
            if (lower.StartsWith("*.", StringComparison.Ordinal)) _hostSuffix = Encoding.ASCII.GetBytes(lower[1..]);
            else _host = Encoding.ASCII.GetBytes(lower);
        }
        _pathPrefix = Bytes(m.PathPrefix);
        _path = Bytes(m.Path);
        _method = Bytes(m.Method);
        _headerName = Bytes(m.Header?.Name);
        _headerValue = Bytes(m.Header?.Value);
        _cookieName = Bytes(m.Cookie?.Name);
        _cookieValue = Bytes(m.Cookie?.Value);
        _models = Utf8(m.Models);
        _modelPrefixes = Utf8(m.ModelPrefixes);
        _modelLabels = m.Models?.ToArray();
        _prefixLabels = m.ModelPrefixes?.Select(Metrics.ModelLabels.OfPrefix).ToArray();
        if (config.ModelRewrite is { } rewrite) ModelRewrite = Json.JsonStringEscaper.Escape(rewrite);
    }

    /// <summary>A <c>models:</c> alias's upstream model name as JSON string content (escaped, no quotes); null = forward the body unchanged.</summary>
    public byte[]? ModelRewrite { get; }

    public RouteConfig Config { get; }

    /// <summary>The route's 1-based position in its listener's routes (the access log's route field); 0 for a <c>models:</c> alias.</summary>
    public int Number { get; }

    /// <summary>For the route a <c>models:</c> alias compiles to: the alias (UTF-8), which the access log names instead of a number.</summary>
    public byte[]? Alias { get; init; }
    public ServiceSnapshot Service { get; }

    /// <summary>The pool a preview route pins to, bypassing the split; null routes by share.</summary>
    public PoolSnapshot? PinnedPool { get; }

    /// <summary>Where copies of the route's requests go; null = not mirrored.</summary>
    public MirrorTarget? Mirror { get; init; }

    /// <summary>True when the route matches on the model (its listener must read the request's model).</summary>
    public bool UsesModel => _models is not null || _modelPrefixes is not null;

    public bool Matches<T>(T request) where T : IHttpRequestView => Matches(request, default);

    /// <summary>Whether the request, whose model is <paramref name="model"/> (UTF-8; empty = none), meets every condition.</summary>
    public bool Matches<T>(T request, ReadOnlySpan<byte> model) where T : IHttpRequestView
    {
        if (UsesModel && !MatchesModel(model)) return false;
        if (_method is not null && !request.Method.SequenceEqual(_method)) return false;
        if (_host is not null && !EqualsIgnoreCase(request.Host, _host)) return false;
        if (_hostSuffix is not null)
        {
            var host = request.Host;
            if (host.Length <= _hostSuffix.Length || !EqualsIgnoreCase(host[^_hostSuffix.Length..], _hostSuffix)) return false;
        }
        if (_path is not null && !request.Path.SequenceEqual(_path)) return false;
        if (_pathPrefix is not null && !request.Path.StartsWith(_pathPrefix)) return false;
        if (_headerName is not null)
        {
            if (!request.TryGetHeader(_headerName, out var value)) return false;
            if (_headerValue is not null && !value.SequenceEqual(_headerValue)) return false;
        }
        if (_cookieName is not null)
        {
            if (!request.TryGetCookie(_cookieName, out var value)) return false;
            if (_cookieValue is not null && !value.SequenceEqual(_cookieValue)) return false;
        }
        return true;
    }

    /// <summary>
    /// The per-model metrics label of a request this route matched whose model is <paramref name="model"/> (empty =
    /// none): the config's name or prefix it matched, else a folded value, so labels never come from clients.
    /// </summary>
    public string ModelLabel(ReadOnlySpan<byte> model)
    {
        if (model.IsEmpty) return Metrics.ModelLabels.None;
        if (_models is { } models)
        {
            for (var i = 0; i < models.Length; i++)
            {
                if (model.SequenceEqual(models[i])) return _modelLabels![i];
            }
        }
        if (_modelPrefixes is { } prefixes)
        {
            for (var i = 0; i < prefixes.Length; i++)
            {
                if (model.StartsWith(prefixes[i])) return _prefixLabels![i];
            }
        }
        return Metrics.ModelLabels.Other;
    }

    private bool MatchesModel(ReadOnlySpan<byte> model)
    {
        if (model.IsEmpty) return false;
        if (_models is { } models)
        {
            foreach (var name in models)
            {
                if (model.SequenceEqual(name)) return true;
            }
        }
        if (_modelPrefixes is { } prefixes)
        {
            foreach (var prefix in prefixes)
            {
                if (model.StartsWith(prefix)) return true;
            }
        }
        return false;
    }

    private static byte[][]? Utf8(IReadOnlyList<string>? names)
    {
        if (names is null) return null;
        var result = new byte[names.Count][];
        for (var i = 0; i < result.Length; i++) result[i] = Encoding.UTF8.GetBytes(names[i]);
        return result;
    }

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> lowerExpected)
    {
        if (actual.Length != lowerExpected.Length) return false;
        for (var i = 0; i < actual.Length; i++)
        {
            var c = actual[i];
            if ((uint)(c - 'A') <= 'Z' - 'A') c = (byte)(c | 0x20);
            if (c != lowerExpected[i]) return false;
        }
        return true;
    }

    private static byte[]? Bytes(string? text) => text is null ? null : Encoding.ASCII.GetBytes(text);
}
