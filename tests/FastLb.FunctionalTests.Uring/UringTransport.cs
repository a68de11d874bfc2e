using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.FunctionalTests;

/// <summary>
/// Moves this copy of the functional suite onto the io_uring transport before any test runs: FASTLB_IO sets the
/// default of <c>io</c> for every event loop the tests create and for every fastlb process they start. Where io_uring
/// cannot run, the suite runs on epoll and says why on stderr (the transport tests skip with the same reason).
/// </summary>
internal static class UringTransport
{
    // CA2255: a test assembly is the one library whose load must change the process's defaults, before xunit runs anything.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Select()
    {
        var unavailable = UringSupport.Probe();
        if (unavailable is null)
        {
            Environment.SetEnvironmentVariable(IoModeNames.EnvironmentVariable, "io_uring");
        }
        else
        {
            Console.Error.WriteLine($"FastLb.FunctionalTests.Uring: io_uring unavailable ({unavailable}); these tests run on epoll");
        }
    }
}
