namespace FastLb.Core.Config;

/// <summary>How an active health check probes a backend.</summary>
internal enum HealthCheckKind
{
    /// <summary>A TCP connect that completes within the timeout passes.</summary>
    Tcp,

    /// <summary>An HTTP/1.1 GET whose status is in the expected set passes.</summary>
    Http,
}
