namespace FastLb.Core.Tls;

/// <summary>A backend's TLS handshakes from FastLb (service <c>tls</c>): completed, and failed by reason. Counted once per upstream connection.</summary>
internal sealed class UpstreamTlsStats
{
    private long _handshakes;
    private readonly long[] _failures = new long[UpstreamTlsFailures.Count];

    /// <summary>Handshakes that completed and verified (each one a new upstream connection; a pooled reuse is none).</summary>
    public long Handshakes => Interlocked.Read(ref _handshakes);

    public long FailuresFor(UpstreamTlsFailure reason) => Interlocked.Read(ref _failures[(int)reason]);

    public void Completed() => Interlocked.Increment(ref _handshakes);

    public void Failed(UpstreamTlsFailure reason) => Interlocked.Increment(ref _failures[(int)reason]);
}
