using System.Runtime.CompilerServices;
using FastLb.Core.Config;

namespace FastLb.FunctionalTests;

/// <summary>
/// Keeps this copy of the functional suite on epoll: <c>io: auto</c> picks io_uring where it can run, and the suite
/// runs once per transport (FastLb.FunctionalTests.Uring, which leaves this file out, is the io_uring copy). A
/// FASTLB_IO set by whoever runs the tests is left as it is.
/// </summary>
internal static class EpollTransport
{
    // CA2255: a test assembly is the one library whose load must change the process's defaults, before xunit runs anything.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Select()
    {
        if (Environment.GetEnvironmentVariable(IoModeNames.EnvironmentVariable) is null)
        {
            Environment.SetEnvironmentVariable(IoModeNames.EnvironmentVariable, "epoll");
        }
    }
}
