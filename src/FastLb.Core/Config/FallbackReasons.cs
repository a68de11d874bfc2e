namespace FastLb.Core.Config;

/// <summary>The outcomes of an attempt that <c>fallback.on</c> may name; one request's outcome is a single flag.</summary>
[Flags]
internal enum FallbackReasons : byte
{
    None = 0,

    /// <summary>The backend answered 429 Too Many Requests.</summary>
    TooManyRequests = 1,

    /// <summary>The backend answered 503 Service Unavailable.</summary>
    Unavailable = 2,

    /// <summary>No backend of the target could be connected to (refused, unreachable, connect timeout, none available).</summary>
    ConnectFailure = 4,

    /// <summary>No response head within response_head_timeout.</summary>
    Timeout = 8,
}
