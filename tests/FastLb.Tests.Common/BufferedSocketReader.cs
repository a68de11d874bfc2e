using System.Net.Sockets;

namespace FastLb.Tests.Common;

/// <summary>Buffered reads from a socket (or a TLS stream over it) for test-side HTTP parsing: lines, heads, exact counts, to end.</summary>
/// <param name="tls">When set, bytes are read through it rather than straight from <paramref name="socket"/>.</param>
internal sealed class BufferedSocketReader(Socket socket, Action<ReadOnlySpan<byte>>? onReceived = null, Stream? tls = null)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>Bytes received and not yet consumed.</summary>
    public int Buffered => _end - _start;

    public Socket Socket => socket;

    /// <summary>Reads up to and including <paramref name="marker"/>; null on FIN before any byte; throws on FIN mid-way.</summary>
    public async Task<byte[]?> ReadThroughAsync(byte[] marker, int maxBytes, CancellationToken ct)
    {
        var scanned = 0;
        while (true)
        {
            var at = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf(marker);
            if (at >= 0)
            {
                var length = scanned + at + marker.Length;
                var result = _buffer.AsSpan(_start, length).ToArray();
                _start += length;
                return result;
            }
            scanned = Math.Max(0, _end - _start - marker.Length + 1);
            if (_end - _start > maxBytes) throw new InvalidDataException($"no {marker.Length}-byte marker within {maxBytes} bytes");
            if (!await FillAsync(ct).ConfigureAwait(false))
            {
                if (_end == _start) return null;
                throw new EndOfStreamException($"connection closed after {_end - _start} bytes without the end marker");
            }
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes into <paramref name="sink"/>; throws on an early FIN.</summary>
    public async Task ReadExactlyAsync(long count, Action<ReadOnlySpan<byte>> sink, CancellationToken ct)
    {
        while (count > 0)
        {
            if (_end == _start && !await FillAsync(ct).ConfigureAwait(false))
                throw new EndOfStreamException($"connection closed with {count} bytes still expected");
            var take = (int)Math.Min(count, _end - _start);
            sink(_buffer.AsSpan(_start, take));
            _start += take;
            count -= take;
        }
    }

    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken ct)
    {
        var result = new byte[count];
        var at = 0;
        await ReadExactlyAsync(count, span =>
        {
            span.CopyTo(result.AsSpan(at));
            at += span.Length;
        }, ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>Reads until FIN into <paramref name="sink"/>; a reset surfaces as <see cref="SocketException"/>.</summary>
    public async Task ReadToEndAsync(Action<ReadOnlySpan<byte>> sink, CancellationToken ct)
    {
        while (true)
        {
            if (_end > _start)
            {
                sink(_buffer.AsSpan(_start, _end - _start));
                _start = _end;
            }
            if (!await FillAsync(ct).ConfigureAwait(false)) return;
        }
    }

    /// <summary>Returns what is buffered, or waits for the next bytes; empty on FIN.</summary>
    public async Task<byte[]> ReadSomeAsync(CancellationToken ct)
    {
        if (_end == _start && !await FillAsync(ct).ConfigureAwait(false)) return [];
        var result = _buffer.AsSpan(_start, _end - _start).ToArray();
        _start = _end;
        return result;
    }

    /// <summary>Reads more bytes, compacting or growing first; false on FIN.</summary>
    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        var n = tls is null
            ? await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false)
            : await tls.ReadAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
        if (n == 0) return false;
        onReceived?.Invoke(_buffer.AsSpan(_end, n));
        _end += n;
        return true;
    }
}
