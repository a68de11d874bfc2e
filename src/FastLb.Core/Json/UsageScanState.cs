namespace FastLb.Core.Json;

/// <summary>
/// Resumable, allocation-free scan of one JSON document for its top-level <c>"usage"</c> object's
/// <c>prompt_tokens</c>, <c>completion_tokens</c> and <c>total_tokens</c>, fed span by span as the bytes pass through,
/// O(bytes). It tracks nesting and strings only; it does not validate the document (the client does). Keys are
/// compared raw: OpenAI-compatible servers never escape these names.
/// </summary>
internal struct UsageScanState
{
    private const int NoKey = -1;
    private const int UsageKey = 0;
    private const int MaxTrackedDepth = 63;

    private ulong _arrayLevels; // bit d set: level d is an array
    private int _depth;
    private bool _inString;
    private bool _escape;
    private bool _expectKey;
    private bool _inKey;
    private int _candidates;    // bit per name of Names still matching the key being read
    private int _keyPos;
    private int _key;           // the last completed key at depth 1 or inside usage, or NoKey
    private int _usageDepth;    // depth of the usage object while inside it, else 0
    private bool _inNumber;
    private long _number;
    private long _prompt, _completion, _total;
    private bool _found;

    private static ReadOnlySpan<byte> Usage => "usage"u8;
    private static ReadOnlySpan<byte> Prompt => "prompt_tokens"u8;
    private static ReadOnlySpan<byte> Completion => "completion_tokens"u8;
    private static ReadOnlySpan<byte> Total => "total_tokens"u8;

    /// <summary>A fresh state for a new document.</summary>
    public static UsageScanState Start() => new() { _key = NoKey, _prompt = -1, _completion = -1, _total = -1 };

    /// <summary>The usage object once it closed, else <see cref="TokenUsage.None"/>.</summary>
    public readonly TokenUsage Result => _found ? new TokenUsage(_prompt, _completion, _total) : TokenUsage.None;

    public void Feed(ReadOnlySpan<byte> span)
    {
        int i = 0;
        while (i < span.Length)
        {
            if (_inString)
            {
                if (_inKey)
                {
                    ReadKeyByte(span[i++]);
                    continue;
                }
                // A value string: skip to its end without looking at each byte.
                if (_escape)
                {
                    _escape = false;
                    i++;
                    continue;
                }
                int stop = span[i..].IndexOfAny((byte)'"', (byte)'\\');
                if (stop < 0) return;
                i += stop;
                if (span[i++] == '\\') _escape = true;
                else _inString = false;
                continue;
            }
            byte b = span[i++];
            if (_inNumber)
            {
                if (b is >= (byte)'0' and <= (byte)'9')
                {
                    if (_number < long.MaxValue / 10) _number = _number * 10 + (b - '0');
                    continue;
                }
                EndNumber();
            }
            switch (b)
            {
                case (byte)'"':
                    _inString = true;
                    _inKey = _expectKey;
                    if (_inKey) StartKey();
                    break;
                case (byte)'{':
                    bool usageOpens = !_expectKey && _depth == 1 && _key == UsageKey && _usageDepth == 0;
                    Push(array: false);
                    if (usageOpens) _usageDepth = _depth;
                    _key = NoKey;
                    break;
                case (byte)'[':
                    Push(array: true);
                    break;
                case (byte)'}':
                case (byte)']':
                    if (_usageDepth > 0 && _depth == _usageDepth)
                    {
                        _usageDepth = 0;
                        _found = true;
                    }
                    if (_depth > 0) _depth--;
                    _expectKey = false;
                    _key = NoKey;
                    break;
                case (byte)':':
                    _expectKey = false;
                    break;
                case (byte)',':
                    _expectKey = IsObjectLevel();
                    _key = NoKey;
                    break;
                default:
                    if (b is >= (byte)'0' and <= (byte)'9' && _usageDepth > 0 && _depth == _usageDepth && _key > UsageKey)
                    {
                        _inNumber = true;
                        _number = b - '0';
                    }
                    break;
            }
        }
    }

    private void StartKey()
    {
        _keyPos = 0;
        _candidates = _depth == 1 && _usageDepth == 0 ? 1 << UsageKey
            : _usageDepth > 0 && _depth == _usageDepth ? 0b1110
            : 0;
    }

    private void ReadKeyByte(byte b)
    {
        if (_escape)
        {
            _escape = false;
            _candidates = 0;
            _keyPos++;
            return;
        }
        if (b == '"')
        {
            _inString = false;
            _inKey = false;
            _key = NoKey;
            for (int k = 0; k < 4; k++)
            {
                if ((_candidates & (1 << k)) != 0 && Name(k).Length == _keyPos) _key = k;
            }
            return;
        }
        if (b == '\\') _escape = true;
        for (int k = 0; k < 4; k++)
        {
            if ((_candidates & (1 << k)) == 0) continue;
            var name = Name(k);
            if (_keyPos >= name.Length || name[_keyPos] != b) _candidates &= ~(1 << k);
        }
        _keyPos++;
    }

    private void EndNumber()
    {
        _inNumber = false;
        switch (_key)
        {
            case 1: _prompt = _number; break;
            case 2: _completion = _number; break;
            case 3: _total = _number; break;
        }
    }

    private void Push(bool array)
    {
        _depth++;
        if (_depth <= MaxTrackedDepth)
        {
            if (array) _arrayLevels |= 1UL << _depth;
            else _arrayLevels &= ~(1UL << _depth);
        }
        _expectKey = !array;
    }

    private readonly bool IsObjectLevel() => _depth > 0 && (_depth > MaxTrackedDepth || (_arrayLevels & (1UL << _depth)) == 0);

    private static ReadOnlySpan<byte> Name(int key) => key switch
    {
        UsageKey => Usage,
        1 => Prompt,
        2 => Completion,
        _ => Total,
    };
}
