namespace FastLb.Host.Cli;

/// <summary>The command line was malformed; the message says what was expected, <see cref="Usage"/> how to call it.</summary>
internal sealed class UsageException(string message, string? usage = null) : Exception(message)
{
    /// <summary>The usage text of the command that was misused, or null for the whole binary's.</summary>
    public string? Usage { get; } = usage;
}
