namespace FastLb.Core.Config;

/// <summary>One problem in a config file, with the position it was found at (1-based); a warning does not stop the file from loading.</summary>
internal sealed record ConfigError(string File, int Line, int Column, string Message, bool IsWarning = false)
{
    public override string ToString() => IsWarning ? $"{File}:{Line}:{Column}: warning: {Message}" : $"{File}:{Line}:{Column}: {Message}";
}
