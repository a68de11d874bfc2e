namespace FastLb.Core.Metrics;

/// <summary>The stable names of <see cref="TerminationCause"/> in the access log and the documentation.</summary>
internal static class TerminationCauses
{
    /// <summary>The cause's name; a rejection carries its status (<c>rejected_400</c>).</summary>
    public static string Name(TerminationCause cause, int status) => cause switch
    {
        TerminationCause.Ok => "ok",
        TerminationCause.ClientClosed => "client_closed",
        TerminationCause.UpstreamReset => "upstream_reset",
        TerminationCause.Timeout => "timeout",
        TerminationCause.DrainDeadline => "drain_deadline",
        TerminationCause.Rejected => status switch
        {
            400 => "rejected_400",
            408 => "rejected_408",
            413 => "rejected_413",
            414 => "rejected_414",
            431 => "rejected_431",
            501 => "rejected_501",
            505 => "rejected_505",
            _ => "rejected",
        },
        TerminationCause.NoRoute => "no_route",
        TerminationCause.NoBackend => "no_backend",
        _ => "connect_failed",
    };
}
