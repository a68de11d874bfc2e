using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>Batches small writes into spans from an <see cref="IBufferWriter{T}"/> so a head costs a few GetSpan/Advance calls, not one per piece.</summary>
internal ref struct HeadBufferWriter
{
    private const int MinimumSpan = 2048;
    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _buffered;

    public HeadBufferWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = output.GetSpan(MinimumSpan);
        _buffered = 0;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _span.Length - _buffered) Grow(bytes.Length);
        bytes.CopyTo(_span[_buffered..]);
        _buffered += bytes.Length;
    }

    public void Write(byte b)
    {
        if (_buffered == _span.Length) Grow(1);
        _span[_buffered++] = b;
    }

    public void WriteDecimal(long value)
    {
        // long.MaxValue has 19 digits.
        if (_span.Length - _buffered < 20) Grow(20);
        value.TryFormat(_span[_buffered..], out int written);
        _buffered += written;
    }

    /// <summary>Writes <c>name: value CRLF</c>.</summary>
    public void WriteField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Write(name);
        Write(": "u8);
        Write(value);
        Write("\r\n"u8);
    }

    /// <summary>Advances the output past everything written; call once at the end.</summary>
    public void Flush()
    {
        if (_buffered > 0) _output.Advance(_buffered);
        _buffered = 0;
        _span = default;
    }

    private void Grow(int needed)
    {
        if (_buffered > 0) _output.Advance(_buffered);
        _buffered = 0;
        _span = _output.GetSpan(Math.Max(needed, MinimumSpan));
    }
}
