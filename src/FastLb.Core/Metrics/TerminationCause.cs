namespace FastLb.Core.Metrics;

/// <summary>How a request (HTTP) or connection (TCP) ended, as the access log names it.</summary>
internal enum TerminationCause : byte
{
    /// <summary>Completed: the whole response went out (HTTP) or both sides closed (TCP).</summary>
    Ok,

    /// <summary>The client closed or reset before the response was complete.</summary>
    ClientClosed,

    /// <summary>The backend reset, closed early or sent an invalid or truncated response.</summary>
    UpstreamReset,

    /// <summary>A timeout FastLb enforces: request head (408), response head (504), idle.</summary>
    Timeout,

    /// <summary>Cut at a drain deadline or at shutdown.</summary>
    DrainDeadline,

    /// <summary>A malformed request FastLb answered itself (4xx) without reaching a backend.</summary>
    Rejected,

    /// <summary>No route matched (404).</summary>
    NoRoute,

    /// <summary>No backend had weight (503).</summary>
    NoBackend,

    /// <summary>Every connect attempt failed or timed out (502).</summary>
    ConnectFailed,
}
