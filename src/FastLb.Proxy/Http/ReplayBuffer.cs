using System.Buffers;

namespace FastLb.Proxy.Http;

/// <summary>
/// The request body bytes a connection forwarded so far, held for a fallback's replay (see <c>fallback.max_replay_body</c>)
/// in one array rented from the shared pool: growing rents a larger one and returns the old, so a connection that keeps
/// alive holds nothing between requests and steady traffic allocates nothing.
/// </summary>
internal sealed class ReplayBuffer
{
    private const int InitialSize = 4096;
    private byte[]? _buffer;
    private int _length;
    private int _limit;

    /// <summary>True while every forwarded byte is held; false once the body outgrew the limit (then nothing is held).</summary>
    public bool Holding { get; private set; }

    /// <summary>The bytes held, valid until the next <see cref="Append"/> or <see cref="Release"/>.</summary>
    public ReadOnlySequence<byte> Held => _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, 0, _length);

    /// <summary>Starts holding a body of <paramref name="expected"/> bytes (-1 when chunked) up to <paramref name="limit"/>; false when it is known to be larger.</summary>
    public bool Begin(long expected, int limit)
    {
        Release();
        _limit = limit;
        Holding = expected <= limit;
        return Holding;
    }

    /// <summary>Adds forwarded bytes; false (and nothing held any more) when they pass the limit.</summary>
    public bool Append(in ReadOnlySequence<byte> bytes)
    {
        if (!Holding) return false;
        var length = bytes.Length;
        if (_length + length > _limit)
        {
            Release();
            return false;
        }
        var needed = _length + (int)length;
        if (_buffer is null || _buffer.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Min(_limit, Math.Max(needed, Math.Max(InitialSize, (_buffer?.Length ?? 0) * 2))));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
            }
            _buffer = grown;
        }
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length = needed;
        return true;
    }

    /// <summary>Returns the array to the pool; nothing is held any more.</summary>
    public void Release()
    {
        Holding = false;
        _length = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
