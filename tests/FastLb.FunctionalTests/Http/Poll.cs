using Xunit;

namespace FastLb.FunctionalTests.Http;

internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails after 20 s (a loaded machine may be slow; a condition that holds ends the wait at once).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
