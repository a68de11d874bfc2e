using System.Globalization;
using FastLb.Core.Json;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] ModelAliasKeys = ["service", "model"];

    private const int MinBodyPeek = 64;
    private const int MaxBodyPeekLimit = 64 * 1024; // the client input pipe pauses its writer at 64 KiB unread

    /// <summary>The longest model name a route may name (the proxy decodes the request's model into a buffer this big).</summary>
    public const int MaxModelNameBytes = 256;

    /// <summary>model: / model_prefix: one name or a list of names.</summary>
    private List<string>? ModelNames(OrderedDictionary<string, ConfigEntry> f, string key, string match)
    {
        if (!f.TryGetValue(key, out var entry)) return null;
        var example = key == "model" ? "gpt-4o or [gpt-4o, gpt-4o-mini]" : "llama-3 or [llama-3, mistral-]";
        var names = new List<string>();
        if (entry.Value is ConfigSequence { Items.Count: > 0 } list)
        {
            foreach (var item in list.Items)
            {
                if (item is ConfigScalar { IsNull: false } s && s.Value.Length > 0) AddModelName(names, item, s.Value, key, match);
                else Error(item, $"{key} of {match} must list model names, e.g. {example}, got {Describe(item)}");
            }
        }
        else if (entry.Value is ConfigScalar { IsNull: false } s && s.Value.Length > 0)
        {
            AddModelName(names, entry.Value, s.Value, key, match);
        }
        else
        {
            Error(entry.Value is ConfigScalar ? entry.Key : entry.Value, $"{key} of {match} must be a model name or a list of them, e.g. {example}, got {Describe(entry.Value)}");
        }
        return names;
    }

    private void AddModelName(List<string> names, ConfigNode at, string name, string key, string match)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxModelNameBytes)
        {
            Error(at, $"{key} '{name[..32]}...' of {match} is longer than {MaxModelNameBytes} bytes");
            return;
        }
        if (names.Contains(name, StringComparer.Ordinal))
        {
            Error(at, $"{key} '{name}' is listed twice in {match}");
            return;
        }
        names.Add(name);
    }

    /// <summary>model_required, max_body_peek and model_header of an http listener.</summary>
    private (bool Required, int MaxBodyPeek, string Header) BindModelOptions(OrderedDictionary<string, ConfigEntry> f, ListenerProtocol? protocol, string listener)
    {
        var required = false;
        var peek = JsonModelScanner.DefaultMaxBodyPeek;
        var header = ListenerConfig.DefaultModelHeader;
        foreach (var key in (string[])["model_required", "max_body_peek", "model_header", "model_peek_timeout", "models"])
        {
            if (protocol == ListenerProtocol.Tcp && f.TryGetValue(key, out var tcpEntry))
            {
                Error(tcpEntry.Key, $"'{key}' is only for http listeners; tcp {listener} reads no request bodies");
            }
        }
        if (f.TryGetValue("model_required", out var requiredEntry)) required = Bool(requiredEntry) == true;
        if (f.TryGetValue("max_body_peek", out var peekEntry) && ByteSize(peekEntry, MinBodyPeek, MaxBodyPeekLimit) is { } p) peek = p;
        if (f.TryGetValue("model_header", out var headerEntry) && Text(headerEntry, "a header name, e.g. x-fastlb-model") is { } h)
        {
            if (IsToken(h)) header = h.ToLowerInvariant();
            else Error(headerEntry.Value, $"model_header '{h}' is not a valid header name; use letters, digits and -_.!#$%&'*+^`|~");
        }
        return (required, peek, header);
    }

    /// <summary>models: { PUBLIC_NAME: SERVICE } or { PUBLIC_NAME: { service: SERVICE, model: UPSTREAM_NAME } } of an http listener.</summary>
    private List<ModelAliasConfig> BindModelAliases(OrderedDictionary<string, ConfigEntry> f, ListenerProtocol? protocol, string listener)
    {
        var result = new List<ModelAliasConfig>();
        if (protocol != ListenerProtocol.Http || !f.TryGetValue("models", out var entry)) return result;
        var context = $"models of {listener}";
        var fields = Fields(entry.Value, context, null);
        if (fields is null) return result;
        foreach (var (name, e) in fields)
        {
            var where = $"model '{name}' in {context}";
            if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxModelNameBytes)
            {
                Error(e.Key, $"model '{name[..32]}...' in {context} is longer than {MaxModelNameBytes} bytes");
                continue;
            }
            string? service = null;
            string? rewrite = null;
            if (e.Value is ConfigScalar)
            {
                if (Text(e, "a service name, or { service: NAME, model: UPSTREAM_MODEL }") is { } s && CheckService(e.Value, s, where)) service = s;
            }
            else if (Fields(e.Value, where, ModelAliasKeys) is { } a)
            {
                if (!a.TryGetValue("service", out var serviceEntry))
                {
                    Error(e.Value, $"{where} needs a service, e.g. {{ service: llm, model: llama-3.1-70b-instruct }}");
                }
                else if (Text(serviceEntry, "a service name") is { } s && CheckService(serviceEntry.Value, s, where))
                {
                    service = s;
                }
                if (a.TryGetValue("model", out var modelEntry) && Text(modelEntry, "the model name the service's backends expect") is { } m)
                {
                    if (System.Text.Encoding.UTF8.GetByteCount(m) > MaxModelNameBytes) Error(modelEntry.Value, $"model of {where} is longer than {MaxModelNameBytes} bytes");
                    else if (m != name) rewrite = m;
                }
            }
            if (service is not null) result.Add(new ModelAliasConfig { Name = name, Service = service, Model = rewrite });
        }
        return result;
    }

    /// <summary>A byte count: a plain integer, or with a KiB / MiB suffix.</summary>
    private int? ByteSize(ConfigEntry entry, int min, int max)
    {
        var key = KeyOf(entry);
        var text = Text(entry, "a size, e.g. 65536 or 64KiB");
        if (text is null) return null;
        var (digits, unit) = text.EndsWith("KiB", StringComparison.Ordinal) ? (text[..^3], 1024L)
            : text.EndsWith("MiB", StringComparison.Ordinal) ? (text[..^3], 1024L * 1024)
            : (text, 1L);
        if (!long.TryParse(digits.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > max || n * unit < min || n * unit > max)
        {
            Error(entry.Value, $"{key} must be a size from {min} bytes to {max / 1024}KiB (e.g. 65536 or 64KiB), got '{text}'");
            return null;
        }
        return (int)(n * unit);
    }
}
