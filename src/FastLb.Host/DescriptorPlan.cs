using FastLb.Core.Config;
using FastLb.Proxy.Transport;

namespace FastLb.Host;

/// <summary>
/// How this process splits its descriptors: those open at start and a reserve stay outside the data plane; the rest
/// is the data plane's budget, and the default max_connections is half of it, since a proxied client connection
/// usually holds an upstream connection too.
/// </summary>
internal sealed record DescriptorPlan(long Limit, int OpenAtStart, int Reserve, int Budget, int AutoMaxConnections)
{
    /// <summary>Reads the limit and the descriptors open now; null when the limit is unknown (not Linux).</summary>
    public static DescriptorPlan? Measure()
    {
        var limit = DescriptorBudget.ReadDescriptorLimit();
        if (limit <= 0) return null;
        var open = Math.Max(0, DescriptorBudget.CountOpenDescriptors());
        var reserve = DescriptorBudget.DefaultReserve(limit);
        var budget = (int)Math.Clamp(limit - open - reserve, 2, int.MaxValue);
        return new DescriptorPlan(limit, open, reserve, budget, Math.Max(1, budget / 2));
    }

    /// <summary>The start-up log line: the limit, the reserve, the budget and the max_connections in force.</summary>
    public string Describe(FastLbConfig config)
    {
        var line = $"descriptors: limit {Limit}, {OpenAtStart} open at start, {Reserve} reserved for the runtime and control plane; "
            + $"data-plane budget {Budget}; ";
        if (config.MaxConnections is not { } max)
        {
            return line + $"max_connections {AutoMaxConnections} (derived: half the budget, one upstream per client connection)";
        }
        line += $"max_connections {max} (from the config)";
        if (max > AutoMaxConnections)
        {
            line += $"; more than the {AutoMaxConnections} the descriptor limit allows with an upstream each: "
                + "past the budget, new connections and upstream connects are refused (raise LimitNOFILE)";
        }
        return line;
    }
}
