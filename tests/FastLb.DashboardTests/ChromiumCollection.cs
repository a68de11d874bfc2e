using Xunit;

namespace FastLb.DashboardTests;

/// <summary>The dashboard test classes share one <see cref="ChromiumBrowser"/> (and so run one after the other).</summary>
[CollectionDefinition(Name)]
public sealed class ChromiumCollection : ICollectionFixture<ChromiumBrowser>
{
    public const string Name = "chromium";
}
