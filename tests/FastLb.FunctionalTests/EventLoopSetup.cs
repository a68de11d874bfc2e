using System.Runtime.CompilerServices;
using FastLb.Proxy.Transport;

namespace FastLb.FunctionalTests;

/// <summary>
/// Runs the data plane on at least two event loops in this test process, whatever the machine's core count, so the
/// cross-loop paths (a connection served by a loop other than the accepting one) are always exercised.
/// </summary>
internal static class EventLoopSetup
{
    [ModuleInitializer]
    internal static void Configure() => EventLoops.Configure(Math.Max(2, Environment.ProcessorCount));
}
