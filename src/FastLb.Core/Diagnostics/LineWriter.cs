using System.Globalization;

namespace FastLb.Core.Diagnostics;

/// <summary>Writes one UTF-8 line into a caller's span without allocating; past the end it stops and sets <see cref="Overflowed"/>.</summary>
internal ref struct LineWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;
    private int _length;

    public bool Overflowed { get; private set; }

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    public void Byte(byte b)
    {
        if (_length < _buffer.Length) _buffer[_length++] = b;
        else Overflowed = true;
    }

    public void Raw(scoped ReadOnlySpan<byte> bytes)
    {
        if (bytes.TryCopyTo(_buffer[_length..])) _length += bytes.Length;
        else Overflowed = true;
    }

    /// <summary>An ASCII string as is (names FastLb checked: listeners, services, pools, addresses, causes).</summary>
    public void Ascii(string text)
    {
        if (_buffer.Length - _length < text.Length)
        {
            Overflowed = true;
            return;
        }
        foreach (var c in text) _buffer[_length++] = (byte)c;
    }

    public void Long(long value)
    {
        if (value.TryFormat(_buffer[_length..], out var n, default, CultureInfo.InvariantCulture)) _length += n;
        else Overflowed = true;
    }

    /// <summary>Microseconds as milliseconds with three decimals (1234 → 1.234).</summary>
    public void Millis(long micros)
    {
        if (micros < 0) micros = 0;
        Long(micros / 1000);
        Byte((byte)'.');
        var frac = (int)(micros % 1000);
        Byte((byte)('0' + frac / 100));
        Byte((byte)('0' + frac / 10 % 10));
        Byte((byte)('0' + frac % 10));
    }

    public void Time(DateTime time)
    {
        if (time.TryFormat(_buffer[_length..], out var n, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)) _length += n;
        else Overflowed = true;
    }

    /// <summary>Bytes from a request (method, path) inside a JSON string: quotes, backslashes and bytes outside printable ASCII escaped.</summary>
    public void JsonEscaped(scoped ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                Byte((byte)'\\');
                Byte(b);
            }
            else if (b is < 0x20 or >= 0x7F)
            {
                // A byte outside ASCII is written as the Latin-1 character of the same value: the line stays valid UTF-8.
                Raw("\\u00"u8);
                Hex(b);
            }
            else
            {
                Byte(b);
            }
        }
    }

    /// <summary>
    /// A UTF-8 name (a model) in a JSON string: written as UTF-8 with quotes, backslashes and control characters
    /// escaped; bytes that are not valid UTF-8 fall back to <see cref="JsonEscaped"/>, so the line stays valid.
    /// </summary>
    public void JsonEscapedUtf8(scoped ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            JsonEscaped(bytes);
            return;
        }
        foreach (var b in bytes)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                Byte((byte)'\\');
                Byte(b);
            }
            else if (b is < 0x20 or 0x7F)
            {
                Raw("\\u00"u8);
                Hex(b);
            }
            else
            {
                Byte(b);
            }
        }
    }

    /// <summary>Bytes from a request in a text line: quotes, backslashes, spaces and bytes outside printable ASCII as \xHH.</summary>
    public void TextEscaped(scoped ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is <= 0x20 or >= 0x7F or (byte)'"' or (byte)'\\')
            {
                Raw("\\x"u8);
                Hex(b);
            }
            else
            {
                Byte(b);
            }
        }
    }

    private void Hex(byte b)
    {
        Byte((byte)"0123456789abcdef"[b >> 4]);
        Byte((byte)"0123456789abcdef"[b & 15]);
    }
}
