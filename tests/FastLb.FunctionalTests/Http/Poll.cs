using Xunit;

namespace FastLb.FunctionalTests.Http;

internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails after 10 s.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
