namespace FastLb.Core.Diagnostics;

/// <summary>A log level as a type, so <see cref="LogMessage{TLevel}"/> can check it before formatting anything.</summary>
internal interface ILogLevel
{
    static abstract LogLevel Level { get; }
}
