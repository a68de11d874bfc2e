namespace FastLb.Core.Config;

/// <summary>One problem in a config file, with the position it was found at (1-based).</summary>
internal sealed record ConfigError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}
