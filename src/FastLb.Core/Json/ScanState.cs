namespace FastLb.Core.Json;

/// <summary>
/// The resumable state of <see cref="JsonModelScanner"/>: fed span by span, so a token split across segments at any
/// byte continues where the previous span stopped.
/// </summary>
internal struct ScanState
{
    private const int ModelKeyLength = 5;

    private ulong _arrayLevels;      // bit d set: nesting level d is an array, not an object
    private int _depth;              // 1 = inside the top-level object
    private int _escape;             // 0 none, 1 after '\', 2..5 = that many \u hex digits read + 2
    private int _hex;
    private int _keyMatched;         // unescaped bytes of the current key that matched "model"
    private bool _keyMismatch;
    private bool _valueIsModel;
    private bool _inNestedString;
    private bool _found;
    private bool _hasEscapes;
    private long _valueStart;
    private long _valueEnd;

    public ScanPhase Phase { get; private set; }

    private static ReadOnlySpan<byte> ModelKey => "model"u8;

    /// <summary>Consumes <paramref name="span"/>, which starts at body offset <paramref name="baseOffset"/>; true once decided.</summary>
    public bool Feed(ReadOnlySpan<byte> span, long baseOffset)
    {
        int i = 0;
        while (i < span.Length)
        {
            byte b = span[i];
            switch (Phase)
            {
                case ScanPhase.Start:
                    if (JsonModelScanner.IsWhitespace(b)) { i++; break; }
                    if (b != '{') return Fail();
                    _depth = 1;
                    Phase = ScanPhase.ExpectKeyOrClose;
                    i++;
                    break;

                case ScanPhase.ExpectKeyOrClose:
                case ScanPhase.ExpectKey:
                    i++;
                    if (JsonModelScanner.IsWhitespace(b)) break;
                    if (b == '}' && Phase == ScanPhase.ExpectKeyOrClose)
                    {
                        Phase = ScanPhase.Closed;
                        return true;
                    }
                    if (b != '"') return Fail();
                    _keyMatched = 0;
                    _keyMismatch = false;
                    Phase = ScanPhase.Key;
                    break;

                case ScanPhase.Key:
                    i++;
                    if (_escape != 0)
                    {
                        int unit = StepEscape(b);
                        if (unit == -2) return Fail();
                        if (unit >= 0) MatchKeyUnit(unit);
                        break;
                    }
                    if (b == '"')
                    {
                        _valueIsModel = !_keyMismatch && _keyMatched == ModelKeyLength;
                        Phase = ScanPhase.ExpectColon;
                        break;
                    }
                    if (b == '\\') { _escape = 1; break; }
                    if (b < 0x20) return Fail();
                    MatchKeyUnit(b);
                    break;

                case ScanPhase.ExpectColon:
                    i++;
                    if (JsonModelScanner.IsWhitespace(b)) break;
                    if (b != ':') return Fail();
                    Phase = ScanPhase.ExpectValue;
                    break;

                case ScanPhase.ExpectValue:
                    i++;
                    if (JsonModelScanner.IsWhitespace(b)) break;
                    if (b == '"')
                    {
                        if (_valueIsModel)
                        {
                            if (_found) return Fail(); // a second top-level model: ambiguous
                            _found = true;
                            _hasEscapes = false;
                            _valueStart = baseOffset + i;
                        }
                        Phase = ScanPhase.ValueString;
                        break;
                    }
                    if (_valueIsModel) return Fail(); // the model must be a string
                    if (b is (byte)'{' or (byte)'[')
                    {
                        if (!Push(b)) return Fail();
                        Phase = ScanPhase.Nested;
                        break;
                    }
                    if (!IsScalarByte(b)) return Fail();
                    Phase = ScanPhase.ValueScalar;
                    break;

                case ScanPhase.ValueString:
                {
                    int end = SkipString(span, ref i);
                    if (end == -2) return Fail();
                    if (end >= 0)
                    {
                        if (_valueIsModel) _valueEnd = baseOffset + end;
                        Phase = ScanPhase.AfterValue;
                    }
                    break;
                }

                case ScanPhase.ValueScalar:
                    if (IsScalarByte(b)) { i++; break; }
                    Phase = ScanPhase.AfterValue; // the delimiter is read there
                    break;

                case ScanPhase.Nested:
                    if (_inNestedString)
                    {
                        int end = SkipString(span, ref i);
                        if (end == -2) return Fail();
                        if (end >= 0) _inNestedString = false;
                        break;
                    }
                    int stop = span[i..].IndexOfAny(JsonModelScanner.NestedStopBytes);
                    if (stop < 0) { i = span.Length; break; }
                    i += stop;
                    b = span[i++];
                    if (b == '"') { _inNestedString = true; break; }
                    if (b is (byte)'{' or (byte)'[')
                    {
                        if (!Push(b)) return Fail();
                        break;
                    }
                    if (!Pop(b)) return Fail();
                    if (_depth == 1) Phase = ScanPhase.AfterValue;
                    break;

                case ScanPhase.AfterValue:
                    i++;
                    if (JsonModelScanner.IsWhitespace(b)) break;
                    if (b == ',') { Phase = ScanPhase.ExpectKey; break; }
                    if (b != '}') return Fail();
                    Phase = ScanPhase.Closed;
                    return true;

                default:
                    return true;
            }
        }
        return false;
    }

    /// <summary>The result once the top-level object closed or the scan failed.</summary>
    public readonly ModelScanResult Result() => Phase switch
    {
        ScanPhase.Closed when _found => Found(),
        ScanPhase.Closed => ModelScanResult.Of(ModelScanStatus.NotFound),
        _ => ModelScanResult.Of(ModelScanStatus.Invalid),
    };

    /// <summary>The result when the peek limit cut the object: a model whose string ended counts, the rest is unseen.</summary>
    public readonly ModelScanResult ResultAtPeekLimit()
    {
        bool valueComplete = _found && !(Phase == ScanPhase.ValueString && _valueIsModel);
        return valueComplete ? Found() : ModelScanResult.Of(ModelScanStatus.NotFound);
    }

    private readonly ModelScanResult Found() =>
        new(ModelScanStatus.Found, _valueStart, (int)(_valueEnd - _valueStart), _hasEscapes);

    /// <summary>
    /// Advances <paramref name="i"/> through string bytes. Returns the index of the closing quote, -1 when the span ended
    /// inside the string, -2 on a control character or a bad escape.
    /// </summary>
    private int SkipString(ReadOnlySpan<byte> span, ref int i)
    {
        while (i < span.Length)
        {
            if (_escape != 0)
            {
                if (StepEscape(span[i++]) == -2) return -2;
                continue;
            }
            var rest = span[i..];
            int stop = rest.IndexOfAny(JsonModelScanner.StringStopBytes);
            var plain = stop < 0 ? rest : rest[..stop];
            if (plain.ContainsAnyInRange((byte)0, (byte)0x1F)) return -2;
            if (stop < 0)
            {
                i = span.Length;
                return -1;
            }
            i += stop;
            if (span[i] == '"')
            {
                return i++;
            }
            _escape = 1;
            if (_valueIsModel && Phase == ScanPhase.ValueString) _hasEscapes = true;
            i++;
        }
        return -1;
    }

    /// <summary>One byte of an escape: the decoded UTF-16 unit when the escape completes, -1 while it continues, -2 if invalid.</summary>
    private int StepEscape(byte b)
    {
        if (_escape == 1)
        {
            if (b == 'u')
            {
                _escape = 2;
                _hex = 0;
                return -1;
            }
            _escape = 0;
            int c = JsonModelScanner.Unescape(b);
            return c < 0 ? -2 : c;
        }
        int digit = JsonModelScanner.HexValue(b);
        if (digit < 0) return -2;
        _hex = (_hex << 4) | digit;
        if (++_escape < 6) return -1;
        _escape = 0;
        return _hex;
    }

    private void MatchKeyUnit(int unit)
    {
        if (_keyMismatch) return;
        if (_keyMatched < ModelKeyLength && unit == ModelKey[_keyMatched]) _keyMatched++;
        else _keyMismatch = true;
    }

    private bool Push(byte open)
    {
        if (_depth >= JsonModelScanner.MaxDepth) return false;
        if (open == '[') _arrayLevels |= 1UL << _depth;
        else _arrayLevels &= ~(1UL << _depth);
        _depth++;
        return true;
    }

    private bool Pop(byte close)
    {
        if (_depth <= 1) return false;
        bool isArray = (_arrayLevels & (1UL << (_depth - 1))) != 0;
        if (isArray != (close == ']')) return false;
        _depth--;
        return true;
    }

    private bool Fail()
    {
        Phase = ScanPhase.Invalid;
        return true;
    }

    private static bool IsScalarByte(byte b) =>
        b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'z') or (byte)'-' or (byte)'+' or (byte)'.' or (byte)'E';
}
