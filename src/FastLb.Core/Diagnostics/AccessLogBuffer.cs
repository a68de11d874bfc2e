namespace FastLb.Core.Diagnostics;

/// <summary>
/// A byte ring of whole access log lines between one writer (an event loop) and the log's writer thread; a line
/// that does not fit is refused, never waited for.
/// </summary>
/// <remarks>
/// Single producer, single consumer: the producer alone moves <c>_head</c> and the consumer alone moves <c>_tail</c>
/// (both count bytes since the start, so the ring is full when head - tail = capacity). Each side publishes its
/// position with a release store after touching the bytes, so the other never sees a half-copied line.
/// </remarks>
internal sealed class AccessLogBuffer(int capacity)
{
    private readonly byte[] _bytes = new byte[capacity];
    private long _head;
    private long _tail;
    private long _lines;
    private long _dropped;
    private double _sampleCredit; // the producer's running share of lines owed by the sample rate

    /// <summary>Lines accepted (producer's count).</summary>
    public long Lines => Volatile.Read(ref _lines);

    /// <summary>Lines refused because the ring was full.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Bytes written and not yet taken by the consumer.</summary>
    public long Pending => Volatile.Read(ref _head) - Volatile.Read(ref _tail);

    public int Capacity => capacity;

    /// <summary>Producer: true when this line is in the sample (<paramref name="sample"/> of all lines, evenly spread).</summary>
    public bool Sampled(double sample)
    {
        if (sample >= 1) return true;
        _sampleCredit += sample;
        if (_sampleCredit < 1) return false;
        _sampleCredit -= 1;
        return true;
    }

    /// <summary>Producer: copies one whole line in, or counts it dropped when the ring has no room.</summary>
    public bool TryWrite(ReadOnlySpan<byte> line)
    {
        var head = _head;
        if (capacity - (head - Volatile.Read(ref _tail)) < line.Length)
        {
            Volatile.Write(ref _dropped, _dropped + 1);
            return false;
        }
        var start = (int)(head % capacity);
        var first = Math.Min(line.Length, capacity - start);
        line[..first].CopyTo(_bytes.AsSpan(start));
        line[first..].CopyTo(_bytes);
        Volatile.Write(ref _lines, _lines + 1);
        Volatile.Write(ref _head, head + line.Length);
        return true;
    }

    /// <summary>
    /// Consumer: writes what the producer published to <paramref name="output"/>. Returns the lines lost because
    /// there is no output or the write failed (<paramref name="error"/> says why); they are taken off the ring anyway.
    /// </summary>
    public long DrainTo(Stream? output, out Exception? error)
    {
        error = null;
        var tail = _tail;
        var n = Volatile.Read(ref _head) - tail;
        if (n == 0) return 0;
        var start = (int)(tail % capacity);
        var first = (int)Math.Min(n, capacity - start);
        var second = (int)(n - first);
        var lost = 0L;
        try
        {
            if (output is null) throw new IOException("not open");
            output.Write(_bytes, start, first);
            if (second > 0) output.Write(_bytes, 0, second);
        }
        catch (Exception e)
        {
            error = e;
            lost = _bytes.AsSpan(start, first).Count((byte)'\n') + _bytes.AsSpan(0, second).Count((byte)'\n');
        }
        // Taken even when the write failed: a broken file must not stop the producers.
        Volatile.Write(ref _tail, tail + n);
        return lost;
    }
}
