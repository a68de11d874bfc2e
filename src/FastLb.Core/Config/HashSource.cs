namespace FastLb.Core.Config;

/// <summary>Where a hash balancer takes its key from (see <see cref="HashOn"/>).</summary>
internal enum HashSource
{
    ClientIp,
    Header,
    Cookie,
}
