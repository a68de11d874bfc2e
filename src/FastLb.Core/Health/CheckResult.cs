namespace FastLb.Core.Health;

/// <summary>The outcome of one active check: passed or not, the HTTP status (0 for TCP or no answer), an error text and the latency.</summary>
/// <param name="Error">A fixed text ("connect refused", "timeout", "status 503"), never built per check; null when passed.</param>
internal readonly record struct CheckResult(bool Passed, int StatusCode, string? Error, TimeSpan Latency)
{
    public string Describe() => Passed
        ? (StatusCode == 0 ? "connected" : $"status {StatusCode}")
        : Error ?? (StatusCode == 0 ? "failed" : $"status {StatusCode}");
}
