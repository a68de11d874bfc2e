namespace FastLb.Core.Config;

/// <summary>What a hash balancer hashes: the client IP, or a named header or cookie.</summary>
internal sealed record HashOn(HashSource Source, string? Name)
{
    public static readonly HashOn ClientIp = new(HashSource.ClientIp, null);

    public override string ToString() => Source switch
    {
        HashSource.ClientIp => "client_ip",
        HashSource.Header => "header:" + Name,
        _ => "cookie:" + Name,
    };
}
