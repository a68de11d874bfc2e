namespace FastLb.Core.Tls;

/// <summary>The metric label, log wording and health-check error of each <see cref="UpstreamTlsFailure"/>.</summary>
internal static class UpstreamTlsFailures
{
    public const int Count = (int)UpstreamTlsFailure.Handshake + 1;

    private static readonly string[] Names = ["untrusted", "name_mismatch", "no_certificate", "timeout", "handshake"];

    private static readonly string[] CheckErrors =
    [
        "tls: certificate not trusted", "tls: certificate name mismatch", "tls: no certificate", "tls handshake timeout", "tls handshake failed",
    ];

    public static string Name(UpstreamTlsFailure reason) => Names[(int)reason];

    /// <summary>The fixed text a failed health check records (status, the health log line).</summary>
    public static string CheckError(UpstreamTlsFailure reason) => CheckErrors[(int)reason];
}
