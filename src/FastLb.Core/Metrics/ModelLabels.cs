namespace FastLb.Core.Metrics;

/// <summary>
/// The values the <c>model</c> label of per-model counters takes besides the names the config lists, so its cardinality
/// is bounded by the config, never by what clients send.
/// </summary>
internal static class ModelLabels
{
    /// <summary>A model that no alias or <c>model:</c> name matched (routed by a route without a model condition).</summary>
    public const string Other = "_other";

    /// <summary>No model could be read from the request.</summary>
    public const string None = "_none";

    /// <summary>The pool label of requests refused before a pool was chosen (by <c>token_limits</c>).</summary>
    public const string NoPool = "_none";

    /// <summary>The label of a <c>model_prefix:</c> entry: the prefix and a '*'.</summary>
    public static string OfPrefix(string prefix) => prefix + "*";
}
