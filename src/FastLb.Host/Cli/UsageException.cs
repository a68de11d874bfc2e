namespace FastLb.Host.Cli;

/// <summary>The command line was malformed; the message says what was expected.</summary>
internal sealed class UsageException(string message) : Exception(message);
