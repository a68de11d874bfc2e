namespace FastLb.Core.Diagnostics;

/// <summary>The <see cref="ILogLevel"/> of each level, one per <see cref="Log"/> method.</summary>
internal static class LogLevels
{
    public readonly struct Debug : ILogLevel
    {
        public static LogLevel Level => LogLevel.Debug;
    }

    public readonly struct Info : ILogLevel
    {
        public static LogLevel Level => LogLevel.Info;
    }

    public readonly struct Warn : ILogLevel
    {
        public static LogLevel Level => LogLevel.Warn;
    }

    public readonly struct Error : ILogLevel
    {
        public static LogLevel Level => LogLevel.Error;
    }
}
