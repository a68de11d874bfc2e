using System.Globalization;
using System.Runtime.CompilerServices;

namespace FastLb.Core.Diagnostics;

/// <summary>
/// An interpolated log message that is formatted only when its level is enabled: for a disabled level the compiler
/// skips every Append call, so <c>Log.Debug($"... {e}")</c> costs one level check.
/// </summary>
[InterpolatedStringHandler]
internal ref struct LogMessage<TLevel> where TLevel : ILogLevel
{
    private DefaultInterpolatedStringHandler _inner;

    public LogMessage(int literalLength, int formattedCount, out bool enabled)
    {
        Enabled = enabled = Log.IsEnabled(TLevel.Level);
        _inner = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount, CultureInfo.InvariantCulture) : default;
    }

    /// <summary>False when the level is off and nothing was formatted.</summary>
    public bool Enabled { get; }

    public void AppendLiteral(string value) => _inner.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _inner.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _inner.AppendFormatted(value, format);

    public void AppendFormatted<T>(T value, int alignment) => _inner.AppendFormatted(value, alignment);

    public void AppendFormatted<T>(T value, int alignment, string? format) => _inner.AppendFormatted(value, alignment, format);

    public void AppendFormatted(ReadOnlySpan<char> value) => _inner.AppendFormatted(value);

    public void AppendFormatted(string? value) => _inner.AppendFormatted(value);

    /// <summary>The formatted message; the handler's buffer goes back to the pool.</summary>
    public string ToStringAndClear() => _inner.ToStringAndClear();
}
