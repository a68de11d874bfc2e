using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;

namespace FastLb.Proxy.Http;

/// <summary>
/// One copy of a request for a mirror pool: the head as FastLb forwards it (with Connection: close) and the body
/// bytes as they stream to the real backend, in a pooled buffer; once complete it is sent on its own socket and
/// its response read and discarded. It holds one of the mirror's in-flight slots from creation until it ends.
/// </summary>
/// <remarks>
/// Cold path by design: only requests chosen for mirroring create one (at most max_in_flight exist per mirror pool),
/// and nothing of the client's exchange ever waits for it.
/// </remarks>
internal sealed class MirrorCopy : IBufferWriter<byte>
{
    private const int ResponseReadBytes = 16 * 1024;
    private const int MaxResponseHead = 64 * 1024;
    private readonly MirrorTarget _target;
    private readonly int _maxBody;
    private byte[] _buffer;
    private int _length;
    private int _headLength;
    private int _ended;

    private MirrorCopy(MirrorTarget target, int capacity)
    {
        _target = target;
        _maxBody = target.Config.MaxBody;
        _buffer = ArrayPool<byte>.Shared.Rent(capacity);
    }

    /// <summary>
    /// A copy of <paramref name="request"/> for <paramref name="target"/>, or null when the request is not copied: not in
    /// the percent, an upgrade, a body known to exceed max_body (dropped), or max_in_flight copies under way (dropped).
    /// </summary>
    public static MirrorCopy? TryStart(MirrorTarget target, HttpRequestHead request, in RequestHeadOptions options)
    {
        if (!target.Sample() || request.IsUpgradeRequest) return null;
        var config = target.Config;
        if (request.Framing == BodyFraming.ContentLength && request.ContentLength > config.MaxBody)
        {
            target.State.CountDropped();
            return null;
        }
        if (!target.State.TryAcquire(config.MaxInFlight)) return null;
        var body = request.Framing == BodyFraming.ContentLength ? (int)request.ContentLength : 0;
        var copy = new MirrorCopy(target, 4096 + body);
        var head = options with { ConnectionClose = true, AllowUpgrade = false };
        HttpHeadWriter.WriteRequestHead(copy, request, head);
        copy._headLength = copy._length;
        return copy;
    }

    /// <summary>Adds body bytes that were just forwarded; false (and the copy is dropped) once the body passes max_body.</summary>
    public bool Append(ReadOnlySequence<byte> bytes)
    {
        if (_length - _headLength + bytes.Length > _maxBody)
        {
            Abandon();
            return false;
        }
        foreach (var segment in bytes) Write(segment.Span);
        return true;
    }

    /// <summary>The body is complete: sends the copy in the background (fire and forget) and returns at once.</summary>
    public void Send() => _ = Task.Run(SendAsync);

    /// <summary>The copy will not be completed (the request ended first, or its body grew too large): counted as dropped.</summary>
    public void Abandon()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        _target.State.CountDropped();
        Finish();
    }

    private async Task SendAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        var state = _target.State;
        var backend = _target.Pool.Policy.Pick(ThreadRandom.Next(), 0);
        if (backend is null)
        {
            state.CountFailed();
            Finish();
            return;
        }
        var service = _target.Service.Config;
        var started = Stopwatch.GetTimestamp();
        var status = 0;
        long headTicks = -1;
        long received = 0;
        var timedOut = false;
        var connected = false;
        var response = ArrayPool<byte>.Shared.Rent(ResponseReadBytes);
        try
        {
            using var socket = new Socket(backend.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using (var connect = new CancellationTokenSource(service.ConnectTimeout))
            {
                try
                {
                    await socket.ConnectAsync(backend.EndPoint, connect.Token).ConfigureAwait(false);
                    connected = true;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    backend.State.RecordConnectFailure(timedOut: connect.IsCancellationRequested);
                    state.CountFailed();
                }
            }
            if (!connected) return;
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (UpstreamTls.For(service.Tls) is { } tls)
            {
                // The copy goes as the service's requests go: over TLS, verified, or not at all.
                using var handshake = new CancellationTokenSource(service.ConnectTimeout);
                var outcome = await tls.HandshakeAsync(stream, backend.State, handshake.Token).ConfigureAwait(false);
                if (outcome.Stream is null)
                {
                    UpstreamTls.Failed(backend.State, outcome);
                    state.CountFailed();
                    connected = false;
                    return;
                }
                stream = outcome.Stream;
            }
            await using var connection = stream;
            backend.State.Traffic.RecordConnect(Stopwatch.GetTimestamp() - started);
            using var deadline = new CancellationTokenSource(service.ResponseHeadTimeout);
            try
            {
                await stream.WriteAsync(_buffer.AsMemory(0, _length), deadline.Token).ConfigureAwait(false);
                state.CountSent();
                (status, received, headTicks) = await ReadResponseAsync(stream, response, Stopwatch.GetTimestamp(), deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                timedOut = deadline.IsCancellationRequested;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(response);
            if (connected)
            {
                // In the mirror pool's statistics as a client request would be: no response is counted as FastLb's 502 or 504.
                if (status is 0 or >= 500) state.CountFailed();
                var counted = status != 0 ? status : timedOut ? 504 : 502;
                backend.State.Traffic.RecordRequest(counted, Stopwatch.GetTimestamp() - started, headTicks, _length, received);
                if (timedOut) backend.State.Traffic.Add(TrafficField.Timeouts);
            }
            Finish();
        }
    }

    /// <summary>Reads the response: the status, then the body by Content-Length, or to the end of the connection; returns what it read.</summary>
    private static async Task<(int Status, long Received, long HeadTicks)> ReadResponseAsync(Stream stream, byte[] buffer, long exchangeStart, CancellationToken ct)
    {
        var status = 0;
        long headTicks = -1;
        long received = 0;
        long bodyLeft = -1; // -1: until the backend closes
        var filled = 0;     // head bytes gathered in buffer while the head is incomplete
        while (true)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(status == 0 ? filled : 0), ct).ConfigureAwait(false);
            if (n == 0) return (status, received, headTicks);
            received += n;
            if (status != 0)
            {
                if (bodyLeft >= 0 && (bodyLeft -= n) <= 0) return (status, received, headTicks);
                continue;
            }
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                if (filled >= Math.Min(buffer.Length, MaxResponseHead)) return (status, received, headTicks); // no head: counted as no response
                continue;
            }
            var head = buffer.AsSpan(0, end);
            if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || !int.TryParse(head.Slice(9, 3), out var code)) return (0, received, headTicks);
            if (code < 200) // 1xx: an interim head; the final one follows
            {
                var rest = filled - end - 4;
                buffer.AsSpan(end + 4, rest).CopyTo(buffer);
                filled = rest;
                continue;
            }
            status = code;
            headTicks = Stopwatch.GetTimestamp() - exchangeStart;
            var length = ContentLength(head);
            if (length >= 0)
            {
                bodyLeft = length - (filled - end - 4);
                if (bodyLeft <= 0) return (status, received, headTicks);
            }
        }
    }

    /// <summary>The Content-Length of a response head, or -1 when it has none.</summary>
    private static long ContentLength(ReadOnlySpan<byte> head)
    {
        while (true)
        {
            var line = head.IndexOf("\r\n"u8);
            if (line < 0) return -1;
            head = head[(line + 2)..];
            var next = head.IndexOf("\r\n"u8);
            var field = next < 0 ? head : head[..next];
            var colon = field.IndexOf((byte)':');
            if (colon > 0 && System.Text.Ascii.EqualsIgnoreCase(field[..colon], "content-length"u8)
                && long.TryParse(field[(colon + 1)..].Trim((byte)' '), out var length))
            {
                return length;
            }
        }
    }

    private void Finish()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
        _target.State.Release();
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Advance(bytes.Length);
    }

    public void Advance(int count) => _length += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    private void Ensure(int sizeHint)
    {
        var need = _length + Math.Max(sizeHint, 256);
        if (need <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
