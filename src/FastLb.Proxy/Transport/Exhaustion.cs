namespace FastLb.Proxy.Transport;

/// <summary>The process's counted, rate-limited reports of running out of descriptors, one per kind of call.</summary>
internal static class Exhaustion
{
    public static ExhaustionLog Accept { get; } = new("accept: out of descriptors; accepting again after a back-off");
    public static ExhaustionLog Connect { get; } = new("upstream connect: out of descriptors (an HTTP request gets 503, a TCP connection is reset)");
    public static ExhaustionLog Pipe { get; } = new("splice: out of descriptors for a pipe, relay waits");
    public static ExhaustionLog Epoll { get; } = new("epoll: cannot watch a socket, connection closed");
}
