using Xunit;

namespace FastLb.FunctionalTests;

public class ThreadingModelTests
{
    [Fact]
    public void FunctionalRun_UsesInlineSocketCompletions_LikeFastlbRun()
    {
        // functional.runsettings sets this so every test here runs under the model WorkerModel gives `fastlb run`.
        Assert.Equal("1", Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"));
    }
}
