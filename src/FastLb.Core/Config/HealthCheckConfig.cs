using FastLb.Core.Health;

namespace FastLb.Core.Config;

/// <summary>An active health check of a service or pool (`health_check:`), validated once.</summary>
internal sealed class HealthCheckConfig
{
    public HealthCheckKind Kind { get; init; } = HealthCheckKind.Tcp;

    /// <summary>HTTP: the request path.</summary>
    public string Path { get; init; } = "/";

    /// <summary>HTTP: the Host header; null sends the backend's address.</summary>
    public string? Host { get; init; }

    /// <summary>HTTP: the status codes that pass.</summary>
    public ExpectedStatuses Expect { get; init; } = ExpectedStatuses.Default;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Passes in a row that make an unknown or unhealthy backend healthy.</summary>
    public int HealthyThreshold { get; init; } = 2;

    /// <summary>Failures in a row that make a healthy or unknown backend unhealthy.</summary>
    public int UnhealthyThreshold { get; init; } = 3;

    /// <summary>True when both would send the same probes (a reload keeps the running schedule then).</summary>
    public bool SameAs(HealthCheckConfig other) =>
        Kind == other.Kind && Path == other.Path && Host == other.Host && Expect.Text == other.Expect.Text
        && Interval == other.Interval && Timeout == other.Timeout
        && HealthyThreshold == other.HealthyThreshold && UnhealthyThreshold == other.UnhealthyThreshold;

    public string Describe() => Kind == HealthCheckKind.Tcp
        ? $"tcp every {ConfigDuration.Format(Interval)}"
        : $"http {Path} expect {Expect.Text} every {ConfigDuration.Format(Interval)}";
}
