namespace FastLb.Core.Config;

/// <summary>One entry of an http listener's <c>models:</c>: a public model name, the service that serves it and the name its backends expect.</summary>
internal sealed class ModelAliasConfig
{
    /// <summary>The model name clients send.</summary>
    public required string Name { get; init; }

    public required string Service { get; init; }

    /// <summary>The model name written into the forwarded body instead of <see cref="Name"/>; null forwards the body unchanged.</summary>
    public string? Model { get; init; }
}
