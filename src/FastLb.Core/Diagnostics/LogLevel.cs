namespace FastLb.Core.Diagnostics;

internal enum LogLevel
{
    Debug,
    Info,
    Warn,
    Error,
    None,
}
