namespace FastLb.Core.Tls;

/// <summary>The metric label and log wording of each <see cref="UpstreamTlsFailure"/>.</summary>
internal static class UpstreamTlsFailures
{
    public const int Count = (int)UpstreamTlsFailure.Handshake + 1;

    private static readonly string[] Names = ["untrusted", "name_mismatch", "no_certificate", "timeout", "handshake"];

    public static string Name(UpstreamTlsFailure reason) => Names[(int)reason];
}
