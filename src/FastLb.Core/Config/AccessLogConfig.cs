namespace FastLb.Core.Config;

/// <summary>A listener's access log (<c>access_log:</c>): where, in which format, and which share of requests.</summary>
internal sealed record AccessLogConfig
{
    /// <summary>The value of <c>path</c> that writes to standard output instead of a file.</summary>
    public const string StdoutPath = "stdout";

    /// <summary>An absolute file path (relative paths are resolved against the config file's folder), or <see cref="StdoutPath"/>.</summary>
    public required string Path { get; init; }

    public AccessLogFormat Format { get; init; } = AccessLogFormat.Text;

    /// <summary>The share of requests (connections) logged, from 0 to 1.</summary>
    public double Sample { get; init; } = 1.0;

    /// <summary>Log the query string with the path (off by default: queries often carry tokens).</summary>
    public bool LogQuery { get; init; }
}
