using System.Buffers;

namespace FastLb.Tests.Http;

/// <summary>An <see cref="IBufferWriter{T}"/> that hands out spans no larger than asked for, to exercise span refills.</summary>
internal sealed class TinySpanBufferWriter : IBufferWriter<byte>
{
    private readonly List<byte> _written = [];
    private byte[] _current = [];

    public byte[] WrittenBytes => [.. _written];

    public int GetSpanCalls { get; private set; }

    public void Advance(int count)
    {
        for (int i = 0; i < count; i++) _written.Add(_current[i]);
        _current = [];
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        GetSpanCalls++;
        _current = new byte[Math.Max(sizeHint, 1)];
        return _current;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
