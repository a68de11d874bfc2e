namespace FastLb.Core.Diagnostics;

/// <summary>One-line operational log to stderr: start, bind, publish, drain, reload. Never on the per-request path.</summary>
internal static class Log
{
    private static readonly Lock WriteLock = new();

    /// <summary>Minimum level written; tests raise it to keep output quiet.</summary>
    public static LogLevel MinLevel { get; set; } = LogLevel.Info;

    /// <summary>Where lines go; defaults to stderr.</summary>
    public static TextWriter Output { get; set; } = Console.Error;

    public static void Info(string message) => Write(LogLevel.Info, message);
    public static void Warn(string message) => Write(LogLevel.Warn, message);
    public static void Error(string message) => Write(LogLevel.Error, message);
    public static void Debug(string message) => Write(LogLevel.Debug, message);

    private static void Write(LogLevel level, string message)
    {
        if (level < MinLevel) return;
        var line = $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {LevelName(level)} {message}";
        lock (WriteLock)
        {
            Output.WriteLine(line);
            Output.Flush();
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info ",
        LogLevel.Warn => "warn ",
        _ => "error",
    };
}
