namespace FastLb.Core.Config;

/// <summary>The names of <see cref="FallbackReasons"/> as the config, the log and the metrics write them.</summary>
internal static class FallbackReasonNames
{
    /// <summary>Every name <c>fallback.on</c> accepts.</summary>
    public static readonly string[] All = ["429", "503", "connect_failure", "timeout"];

    public static FallbackReasons Parse(string name) => name switch
    {
        "429" => FallbackReasons.TooManyRequests,
        "503" => FallbackReasons.Unavailable,
        "connect_failure" => FallbackReasons.ConnectFailure,
        "timeout" => FallbackReasons.Timeout,
        _ => FallbackReasons.None,
    };

    /// <summary>The name of one reason (a single flag).</summary>
    public static string Name(FallbackReasons reason) => reason switch
    {
        FallbackReasons.TooManyRequests => "429",
        FallbackReasons.Unavailable => "503",
        FallbackReasons.ConnectFailure => "connect_failure",
        FallbackReasons.Timeout => "timeout",
        _ => "none",
    };
}
