namespace FastLb.Core.Config;

internal sealed partial class ConfigBinder
{
    private static readonly string[] FallbackKeys = ["on", "to", "max_attempts", "max_replay_body"];
    private const int MaxFallbackAttempts = 10;
    private const int MaxReplayBodyLimit = 64 * 1024 * 1024;

    // `to:` entries that name no pool of their service: checked against every service once all are bound (a
    // fallback may name a service defined further down the file).
    private readonly List<(ConfigNode At, string Name, string Service)> _fallbackServiceTargets = [];

    /// <summary>`fallback: { on: [429, 503, connect_failure, timeout], to: [POOL_OR_SERVICE, ...], max_attempts: 2, max_replay_body: 1MiB }`.</summary>
    private FallbackConfig? BindFallback(ConfigEntry entry, string service, IReadOnlyList<PoolConfig>? pools)
    {
        var where = $"fallback of service '{service}'";
        var f = Fields(entry.Value, where, FallbackKeys);
        if (f is null) return null;
        var before = _errors.Count;
        var on = FallbackReasons.None;
        if (!f.TryGetValue("on", out var onEntry))
        {
            Error(entry.Key, $"{where} needs on: the outcomes that move a request on, e.g. on: [429, 503, connect_failure, timeout]");
        }
        else
        {
            foreach (var (at, name) in Names(onEntry, where, "outcome"))
            {
                var reason = FallbackReasonNames.Parse(name);
                if (reason == FallbackReasons.None)
                {
                    Error(at, $"on of {where}: unknown outcome '{name}'; expected {OneOf(FallbackReasonNames.All)}{Suggestions.Hint(name, FallbackReasonNames.All)}");
                    continue;
                }
                on |= reason;
            }
        }
        var to = new List<FallbackTargetConfig>();
        if (!f.TryGetValue("to", out var toEntry))
        {
            Error(entry.Key, $"{where} needs to: the pools of this service or other services to try next, e.g. to: [v1]");
        }
        else
        {
            foreach (var (at, name) in Names(toEntry, where, "target"))
            {
                var isPool = pools is not null && pools.Any(p => p.Name == name);
                if (!isPool) _fallbackServiceTargets.Add((at, name, service));
                to.Add(new FallbackTargetConfig(name, isPool));
            }
        }
        var maxAttempts = f.TryGetValue("max_attempts", out var attemptsEntry)
            ? Int(attemptsEntry, 1, MaxFallbackAttempts) ?? FallbackConfig.DefaultMaxAttempts
            : FallbackConfig.DefaultMaxAttempts;
        var maxReplay = f.TryGetValue("max_replay_body", out var replayEntry)
            ? ByteSize(replayEntry, 0, MaxReplayBodyLimit) ?? FallbackConfig.DefaultMaxReplayBody
            : FallbackConfig.DefaultMaxReplayBody;
        if (_errors.Count > before) return null;
        return new FallbackConfig { On = on, To = to, MaxAttempts = maxAttempts, MaxReplayBody = maxReplay };
    }

    /// <summary>The scalars of a non-empty list (a single scalar counts as a list of one).</summary>
    private List<(ConfigNode At, string Name)> Names(ConfigEntry entry, string where, string what)
    {
        var result = new List<(ConfigNode, string)>();
        if (entry.Value is ConfigScalar { IsNull: false } one && one.Value.Length > 0)
        {
            result.Add((one, one.Value));
            return result;
        }
        if (entry.Value is not ConfigSequence { Items.Count: > 0 } list)
        {
            Error(entry.Value is ConfigScalar ? entry.Key : entry.Value, $"{KeyOf(entry)} of {where} must be a non-empty list, got {Describe(entry.Value)}");
            return result;
        }
        foreach (var item in list.Items)
        {
            if (item is ConfigScalar { IsNull: false } s && s.Value.Length > 0) result.Add((s, s.Value));
            else Error(item, $"each {what} in {KeyOf(entry)} of {where} must be a name, got {Describe(item)}");
        }
        return result;
    }

    /// <summary>Every `to:` entry that is no pool of its service must name a service (run once all services are bound).</summary>
    private void CheckFallbackTargets()
    {
        foreach (var (at, name, service) in _fallbackServiceTargets)
        {
            if (_servicePools.ContainsKey(name)) continue;
            var pools = _servicePools.GetValueOrDefault(service) ?? [];
            var candidates = pools.Concat(_serviceNames).ToList();
            Error(at, $"to of fallback of service '{service}': '{name}' is neither a pool of '{service}' (pools: {Suggestions.List(pools)}) nor a service (services: {Suggestions.List(_serviceNames)}){Suggestions.Hint(name, candidates)}");
        }
    }
}
