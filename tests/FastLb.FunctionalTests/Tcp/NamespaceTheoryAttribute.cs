using Xunit;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>A theory that creates a network namespace: skipped, with the reason, where that is not possible here.</summary>
public sealed class NamespaceTheoryAttribute : TheoryAttribute
{
    public NamespaceTheoryAttribute()
    {
        if (NetworkNamespace.Unavailable() is { } reason) Skip = reason;
    }
}
