using FastLb.Proxy.Transport;

namespace FastLb.Tests.Common;

/// <summary>
/// Event loops for tests: at least two whatever the machine's core count, so the cross-loop paths (a connection
/// served by a loop other than the accepting one) are always exercised.
/// </summary>
internal static class TestLoops
{
    public static int Count => Math.Max(2, Environment.ProcessorCount);

    /// <summary>Loops shared by the transport tests that drive sockets without a server; they live as long as the test process.</summary>
    public static EventLoops Shared { get; } = new(Count);

    /// <summary>A new set for a server under test, which owns and stops it.</summary>
    public static EventLoops Create() => new(Count);
}
