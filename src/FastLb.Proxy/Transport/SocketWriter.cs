using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace FastLb.Proxy.Transport;

/// <summary>A <see cref="PipeWriter"/> whose flush sends straight to an <see cref="EpollSocket"/>: no pipe, no send loop.</summary>
/// <remarks>
/// Written bytes collect in pooled blocks; <see cref="FlushAsync"/> hands them to the kernel at once and completes
/// synchronously unless the send buffer is full, in which case it parks on writability (the event loop resumes it)
/// and completes when everything is sent, which is the backpressure a pipe would give. Sent blocks go back to the
/// pool at once. A failed send makes the flush report <see cref="FlushResult.IsCompleted"/> (the peer is gone).
/// Completing cleanly sends what is left and then FIN; completing with an exception resets the connection.
/// On a ring loop a flush made on the loop's thread hands its blocks to the ring instead (SocketWriter.Ring.cs): the
/// send is submitted with the loop's next io_uring_enter and the flush completes at once, unless more than
/// <see cref="RingSendBound"/> bytes are still waiting for the kernel.
/// </remarks>
internal sealed partial class SocketWriter : PipeWriter, IValueTaskSource<FlushResult>, IValueTaskSource
{
    private enum Send : byte { Done, Failed, Canceled, Parked }

    private readonly EpollSocket _socket;
    private readonly MemoryPool<byte> _pool;
    private ManualResetValueTaskSourceCore<FlushResult> _core;
    private SendSegment? _head;
    private SendSegment? _tail;
    private bool _failed;
    private bool _completed;
    private int _cancelRequested;
    private int _parked;
    private long _bytesSent;

    public SocketWriter(EpollSocket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        _pool = pool;
        _ring = socket.Loop.UsesRing;
    }

    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>True once a send failed: the peer reset or the socket was closed.</summary>
    public bool Failed => Volatile.Read(ref _failed);

    /// <summary>
    /// True when nothing is written and unsent: no block waits for a flush and (on a ring loop) no send is queued or in
    /// the kernel. Call on the socket's loop thread, which owns the ring's send chain.
    /// </summary>
    internal bool IsIdle => _head is null && (!_ring || (!_sending && Volatile.Read(ref _queued) == 0));

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_completed) ThrowCompleted();
        if (sizeHint <= 0) sizeHint = 1;
        var tail = _tail;
        if (tail is not null && tail.Block.Length - tail.End >= sizeHint) return tail.Block[tail.End..];
        var segment = SendSegment.Rent();
        segment.Attach(sizeHint <= _pool.MaxBufferSize ? _pool.Rent() : MemoryPool<byte>.Shared.Rent(sizeHint));
        if (tail is null) _head = segment;
        else tail.Next = segment;
        _tail = segment;
        return segment.Block;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        var tail = _tail;
        if (tail is null || bytes < 0 || tail.End + bytes > tail.Block.Length) ThrowAdvance();
        tail.End += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_completed) ThrowCompleted();
        if (Volatile.Read(ref _failed)) return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        if (_ring) return FlushThroughRing();
        return FlushDirect();
    }

    /// <summary>The epoll path (and a ring writer's flush off its loop with nothing in flight): send on this thread.</summary>
    private ValueTask<FlushResult> FlushDirect()
    {
        _core.Reset();
        Interlocked.Exchange(ref _parked, 1);
        var send = SendBuffered(resumed: false);
        if (send == Send.Parked) return new ValueTask<FlushResult>(this, _core.Version);
        Volatile.Write(ref _parked, 0);
        return new ValueTask<FlushResult>(ResultOf(send));
    }

    /// <summary>
    /// Sends <paramref name="data"/> straight from the caller's memory when no written bytes wait before it, so a
    /// layer that already holds its bytes in a buffer of its own (SslStream's records) skips the copy into a block:
    /// the bytes the kernel took now (the caller writes the rest and flushes), 0 when all must go the usual way
    /// (bytes buffered, a cancel pending, the send buffer full, or sends through the ring), -1 once the connection failed.
    /// </summary>
    public int SendDirect(ReadOnlySpan<byte> data)
    {
        if (_completed) ThrowCompleted();
        if (Volatile.Read(ref _failed)) return -1;
        // A ring writer's blocks may be in the kernel's send queue after they left _head: a send from here could pass them.
        if (_ring) return 0;
        if (_head is not null || Volatile.Read(ref _cancelRequested) != 0) return 0; // the flush takes the cancel
        int n;
        try
        {
            n = _socket.Send(data);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Volatile.Write(ref _failed, true);
            return -1;
        }
        if (n <= 0) return 0; // full: the flush parks on writability
        _bytesSent += n;
        return n;
    }

    public override void CancelPendingFlush()
    {
        Interlocked.Exchange(ref _cancelRequested, 1);
        if (Volatile.Read(ref _parked) != 0) _socket.WakeWriter();
        if (_ring) CancelRingWait();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed) return;
        if (_ring && CompleteThroughRing(exception)) return;
        if (exception is null && !_failed && _head is not null && SendBuffered(resumed: false, mayPark: false) != Send.Done)
        {
            // The kernel cannot take the rest right now: finish in the background, then FIN.
            _ = CompleteAsync().AsTask();
            return;
        }
        Finish(exception);
    }

    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed) return default;
        if (_ring && CompleteAsyncThroughRing(exception) is { } waiting) return waiting;
        return CompleteDirectAsync(exception);
    }

    private async ValueTask CompleteDirectAsync(Exception? exception)
    {
        if (_completed) return;
        if (exception is null && !_failed && _head is not null)
        {
            var flush = await FlushAsync().ConfigureAwait(false);
            if (flush.IsCanceled) _failed = true; // canceled on the way out: do not claim a clean end
        }
        Finish(exception);
    }

    private void Finish(Exception? exception)
    {
        _completed = true;
        ReleaseAll();
        if (exception is not null || _failed) _socket.Abort(); // a broken source must not look like a clean end
        else _socket.ShutdownSend();
    }

    private Send SendBuffered(bool resumed, bool mayPark = true)
    {
        while (true)
        {
            var segment = _head;
            if (segment is null) return Send.Done;
            if (segment.Start == segment.End)
            {
                if (ReferenceEquals(segment, _tail))
                {
                    ReleaseAll(); // everything sent: hold no block while idle
                    return Send.Done;
                }
                _head = segment.Next;
                Recycle(segment);
                continue;
            }
            if (!resumed && TakeCancel()) return Send.Canceled;
            resumed = false;
            int n;
            try
            {
                n = _socket.Send(segment.Block.Span[segment.Start..segment.End]);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Volatile.Write(ref _failed, true);
                ReleaseAll();
                return Send.Failed;
            }
            if (n >= 0)
            {
                segment.Start += n;
                _bytesSent += n;
                continue;
            }
            if (!mayPark) return Send.Parked;
            if (TakeCancel()) return Send.Canceled;
            if (!_socket.TryWaitWritable(OnWritable, this)) return Send.Parked;
            if (_socket.IsClosed)
            {
                _failed = true;
                ReleaseAll();
                return Send.Failed;
            }
        }
    }

    private static readonly Action<object?> OnWritable = static state => ((SocketWriter)state!).Resume();

    private void Resume()
    {
        bool ready;
        try
        {
            ready = _socket.EndWriteWait();
        }
        catch (Exception)
        {
            ready = false;
        }
        Send send;
        if (ready)
        {
            send = SendBuffered(resumed: false);
            if (send == Send.Parked) return;
        }
        else
        {
            _failed = true;
            ReleaseAll();
            send = Send.Failed;
        }
        Volatile.Write(ref _parked, 0);
        _core.SetResult(ResultOf(send));
    }

    private static FlushResult ResultOf(Send send) =>
        new(isCanceled: send == Send.Canceled, isCompleted: send == Send.Failed);

    private bool TakeCancel() => Volatile.Read(ref _cancelRequested) != 0 && Interlocked.Exchange(ref _cancelRequested, 0) != 0;

    private void ReleaseAll()
    {
        var segment = _head;
        while (segment is not null)
        {
            var next = segment.Next;
            Recycle(segment);
            segment = next;
        }
        _head = _tail = null;
    }

    private static void Recycle(SendSegment segment) => segment.Return();

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowCompleted() => throw new InvalidOperationException("writing is not allowed after the writer was completed");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowAdvance() => throw new ArgumentOutOfRangeException("bytes", "advanced past the memory handed out");

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    // CompleteAsync's wait for the ring's sends shares the flush's core: the two never overlap.
    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
