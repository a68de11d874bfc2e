using FastLb.Core.Health;

namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] HealthCheckKeys =
        ["type", "path", "host", "expect", "interval", "timeout", "healthy_threshold", "unhealthy_threshold"];
    private static readonly string[] HealthCheckTypes = ["http", "tcp"];
    private static readonly string[] InitialStates = ["unknown", "healthy"];
    private static readonly string[] OutlierKeys = ["consecutive_failures", "eject_on_5xx", "base_ejection", "max_ejection", "max_ejected_percent"];
    private const int MaxThreshold = 100;

    /// <summary>`health_check: { type: http, path: /healthz, ... }` of a service or pool; null when absent or invalid (errors reported).</summary>
    private HealthCheckConfig? BindHealthCheck(ConfigEntry entry, string context)
    {
        var where = $"health_check of {context}";
        var f = Fields(entry.Value, where, HealthCheckKeys);
        if (f is null) return null;
        var d = new HealthCheckConfig();
        // Without a type, a path means http and no path means a plain connect.
        var kind = f.ContainsKey("path") ? HealthCheckKind.Http : HealthCheckKind.Tcp;
        if (f.TryGetValue("type", out var t))
        {
            kind = Choice(t, HealthCheckTypes) switch
            {
                "http" => HealthCheckKind.Http,
                "tcp" => HealthCheckKind.Tcp,
                _ => kind, // Choice reported the error
            };
        }
        var path = d.Path;
        if (f.TryGetValue("path", out var p) && Text(p, "a path starting with /, e.g. /healthz") is { } pathText)
        {
            if (pathText[0] != '/' || pathText.Any(c => c <= ' ' || c >= 0x7f))
            {
                Error(p.Value, $"path of {where} must start with / and contain no spaces or control characters, got '{pathText}'");
            }
            path = pathText;
        }
        string? host = null;
        if (f.TryGetValue("host", out var h) && Text(h, "a host name, e.g. web.internal") is { } hostText)
        {
            if (hostText.Any(c => c <= ' ' || c >= 0x7f)) Error(h.Value, $"host of {where} must not contain spaces or control characters, got '{hostText}'");
            host = hostText;
        }
        var expect = d.Expect;
        if (f.TryGetValue("expect", out var e)) expect = BindExpect(e, where) ?? expect;
        var interval = Timeout(f, "interval", d.Interval);
        var timeout = Timeout(f, "timeout", d.Timeout);
        if (timeout > interval)
        {
            Error(f.TryGetValue("timeout", out var te) ? te.Value : entry.Key,
                $"timeout of {where} ({ConfigDuration.Format(timeout)}) must not exceed its interval ({ConfigDuration.Format(interval)}): checks of one backend never overlap");
        }
        if (kind == HealthCheckKind.Tcp)
        {
            foreach (var httpOnly in (string[])["path", "host", "expect"])
            {
                if (f.TryGetValue(httpOnly, out var x)) Error(x.Key, $"{httpOnly} only applies to type: http, but {where} is type: tcp");
            }
        }
        return new HealthCheckConfig
        {
            Kind = kind,
            Path = path,
            Host = host,
            Expect = expect,
            Interval = interval,
            Timeout = timeout,
            HealthyThreshold = f.TryGetValue("healthy_threshold", out var ht) ? Int(ht, 1, MaxThreshold) ?? d.HealthyThreshold : d.HealthyThreshold,
            UnhealthyThreshold = f.TryGetValue("unhealthy_threshold", out var ut) ? Int(ut, 1, MaxThreshold) ?? d.UnhealthyThreshold : d.UnhealthyThreshold,
        };
    }

    /// <summary>`expect: 200-399`, `expect: "200,204,300-399"` or `expect: [200, 204, 300-399]`.</summary>
    private ExpectedStatuses? BindExpect(ConfigEntry entry, string where)
    {
        var items = new List<string>();
        if (entry.Value is ConfigSequence seq)
        {
            foreach (var item in seq.Items)
            {
                if (item is ConfigScalar { IsNull: false } s) items.Add(s.Value);
                else Error(item, $"expect of {where} lists status codes or ranges, got {item.Describe()}");
            }
        }
        else if (Text(entry, "a status code, a range or a list, e.g. 200-399 or \"200,204,300-399\"") is { } text)
        {
            items.Add(text);
        }
        else
        {
            return null;
        }
        var parsed = ExpectedStatuses.TryParse(items, out var error);
        if (parsed is null) Error(entry.Value, $"expect of {where}: {error}");
        return parsed;
    }

    private InitialHealth BindInitialState(ConfigEntry entry) =>
        Choice(entry, InitialStates) == "healthy" ? InitialHealth.Healthy : InitialHealth.Unknown;

    /// <summary>`outlier: { consecutive_failures: 5, ... }`; `outlier: {}` turns ejection on with the defaults.</summary>
    private OutlierConfig? BindOutlier(ConfigEntry entry, string context)
    {
        var where = $"outlier of {context}";
        var f = Fields(entry.Value, where, OutlierKeys);
        if (f is null) return null;
        var d = new OutlierConfig();
        var baseEjection = Timeout(f, "base_ejection", d.BaseEjection);
        var maxEjection = Timeout(f, "max_ejection", d.MaxEjection);
        if (maxEjection < baseEjection)
        {
            Error(f.TryGetValue("max_ejection", out var me) ? me.Value : entry.Key,
                $"max_ejection of {where} ({ConfigDuration.Format(maxEjection)}) must be at least base_ejection ({ConfigDuration.Format(baseEjection)})");
        }
        return new OutlierConfig
        {
            ConsecutiveFailures = f.TryGetValue("consecutive_failures", out var cf) ? Int(cf, 1, 1000) ?? d.ConsecutiveFailures : d.ConsecutiveFailures,
            EjectOn5xx = f.TryGetValue("eject_on_5xx", out var e5) && Bool(e5) == true,
            BaseEjection = baseEjection,
            MaxEjection = maxEjection,
            MaxEjectedPercent = f.TryGetValue("max_ejected_percent", out var mp) ? Int(mp, 0, 100) ?? d.MaxEjectedPercent : d.MaxEjectedPercent,
        };
    }

    private int Percent(OrderedDictionary<string, ConfigEntry> f, string key, int fallback) =>
        f.TryGetValue(key, out var e) ? Int(e, 0, 100) ?? fallback : fallback;
}
