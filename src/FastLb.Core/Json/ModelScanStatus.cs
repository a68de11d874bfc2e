namespace FastLb.Core.Json;

/// <summary>What <see cref="JsonModelScanner"/> decided about a request body prefix.</summary>
internal enum ModelScanStatus
{
    /// <summary>The prefix ends inside the top-level object, below the peek limit: read more of the body.</summary>
    NeedMore,

    /// <summary>A top-level <c>"model"</c> string was found (and no second one within the scanned bytes).</summary>
    Found,

    /// <summary>The top-level object ended, or the peek limit was reached, without a top-level <c>"model"</c>.</summary>
    NotFound,

    /// <summary>Not a JSON object, malformed, truncated, nested too deep, a non-string or a duplicate top-level model.</summary>
    Invalid,
}
