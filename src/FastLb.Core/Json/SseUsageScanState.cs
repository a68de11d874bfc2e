namespace FastLb.Core.Json;

/// <summary>
/// Reads token usage from a server-sent event stream as it passes: each <c>data:</c> line is scanned as its own JSON
/// document (<see cref="UsageScanState"/>) and the last one that reported <c>usage</c> wins (OpenAI's
/// <c>stream_options.include_usage</c> sends it in the final chunk). Nothing is buffered; other lines are skipped.
/// </summary>
internal struct SseUsageScanState
{
    private const int InData = 5; // "data:".Length
    private const int SkipLine = -1;

    private UsageScanState _event;
    private int _prefix; // bytes of "data:" matched at the start of the line, InData inside a data line, SkipLine otherwise
    private TokenUsage _last;

    private static ReadOnlySpan<byte> DataField => "data:"u8;

    public static SseUsageScanState Start() => new() { _last = TokenUsage.None };

    /// <summary>The usage of the last data line that reported one, or <see cref="TokenUsage.None"/>.</summary>
    public readonly TokenUsage Result
    {
        get
        {
            // A stream may end without a final newline: its last line still counts.
            var current = _prefix == InData ? _event.Result : TokenUsage.None;
            return current.IsNone ? _last : current;
        }
    }

    public void Feed(ReadOnlySpan<byte> span)
    {
        int i = 0;
        while (i < span.Length)
        {
            if (_prefix is InData or SkipLine)
            {
                int eol = span[i..].IndexOfAny((byte)'\n', (byte)'\r');
                if (_prefix == InData) _event.Feed(eol < 0 ? span[i..] : span.Slice(i, eol));
                if (eol < 0) return;
                i += eol + 1;
                EndLine();
                continue;
            }
            byte b = span[i++];
            if (b is (byte)'\n' or (byte)'\r')
            {
                _prefix = 0;
                continue;
            }
            if (b != DataField[_prefix])
            {
                _prefix = SkipLine;
                continue;
            }
            if (++_prefix == InData) _event = UsageScanState.Start();
        }
    }

    private void EndLine()
    {
        if (_prefix == InData && _event.Result is { IsNone: false } usage) _last = usage;
        _prefix = 0;
    }
}
