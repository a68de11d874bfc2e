using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>A fact that creates a network namespace: skipped, with the reason, where that is not possible here.</summary>
public sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (NetworkNamespace.Unavailable() is { } reason) Skip = reason;
    }
}
