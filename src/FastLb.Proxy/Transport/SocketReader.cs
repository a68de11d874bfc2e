using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace FastLb.Proxy.Transport;

/// <summary>A <see cref="PipeReader"/> that receives straight from an <see cref="EpollSocket"/> when asked: no pipe, no receive loop.</summary>
/// <remarks>
/// <para>
/// Bytes are received only inside <see cref="ReadAsync"/> (and <see cref="TryRead"/> when the socket may have some),
/// into pooled blocks that go back to the pool as soon as they are consumed, so an idle connection holds no block
/// and no parked receive loop. A read that must wait parks on the socket's readiness; the event loop resumes it
/// inline, it receives, and the caller's continuation runs on that same thread. The reader itself is the awaited
/// value-task source, so neither path allocates.
/// </para>
/// <para>
/// Pipe semantics the HTTP proxy relies on are kept: unexamined bytes return at once; examined-but-unconsumed bytes
/// wait for more; <see cref="CancelPendingRead"/> (any thread) makes the pending or next read return canceled; end of
/// stream completes the result; a reset or local abort throws. One consumer at a time.
/// </para>
/// </remarks>
internal sealed class SocketReader : PipeReader, IValueTaskSource<ReadResult>
{
    private enum Pump : byte { Data, Ended, Failed, Canceled, Parked, NotReady }

    private readonly EpollSocket _socket;
    private readonly MemoryPool<byte> _pool;
    private ManualResetValueTaskSourceCore<ReadResult> _core;
    private ReceiveSegment? _head;
    private ReceiveSegment? _tail;
    private int _headStart;
    private bool _examinedAll;
    private bool _readAgain;
    private bool _ended;
    private bool _completed;
    private Exception? _error;
    private int _cancelRequested;
    private int _parked;
    private int _end;
    private long _lastReceiveMs;
    private long _bytesReceived;

    public SocketReader(EpollSocket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        _pool = pool;
        _lastReceiveMs = Environment.TickCount64;
    }

    /// <summary>Why receiving ended, or <see cref="Transport.ReceiveEnd.None"/> while the stream is open.</summary>
    public ReceiveEnd ReceiveEnd => (ReceiveEnd)Volatile.Read(ref _end);

    /// <summary><see cref="Environment.TickCount64"/> of the last received bytes (or of creation).</summary>
    public long LastReceiveMs => Volatile.Read(ref _lastReceiveMs);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>True while received bytes wait unconsumed.</summary>
    public bool HasBuffered => _head is not null;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_completed) ThrowCompleted();
        if (TakeCancel()) return new ValueTask<ReadResult>(Result(canceled: true));
        if (_head is not null && !_examinedAll) return new ValueTask<ReadResult>(Result(canceled: false));
        if (_ended) return _error is null ? new ValueTask<ReadResult>(Result(canceled: false)) : ValueTask.FromException<ReadResult>(_error);

        _core.Reset();
        Interlocked.Exchange(ref _parked, 1); // before Receive looks at the cancel flag (see CancelPendingRead)
        var pump = Receive(resumed: false, mayPark: true);
        if (pump == Pump.Parked) return new ValueTask<ReadResult>(this, _core.Version);
        Volatile.Write(ref _parked, 0);
        return pump == Pump.Failed
            ? ValueTask.FromException<ReadResult>(_error!)
            : new ValueTask<ReadResult>(Result(canceled: pump == Pump.Canceled));
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_completed) ThrowCompleted();
        if (TakeCancel())
        {
            result = Result(canceled: true);
            return true;
        }
        if (_head is null && !_ended && (_readAgain || _socket.MaybeReadable))
        {
            var pump = Receive(resumed: false, mayPark: false);
            if (pump == Pump.Canceled)
            {
                result = Result(canceled: true);
                return true;
            }
        }
        if (_head is not null || _ended)
        {
            if (_error is not null && _head is null) throw _error;
            result = Result(canceled: false);
            return true;
        }
        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_completed) ThrowCompleted();
        var tail = _tail;
        var tailEnd = tail?.End ?? 0;
        // Everything examined: the next read waits for new bytes instead of returning these again.
        _examinedAll = examined.GetObject() is not ReceiveSegment examinedSegment
            || (ReferenceEquals(examinedSegment, tail) && examined.GetInteger() >= tailEnd);

        if (consumed.GetObject() is not ReceiveSegment segment) return; // an empty buffer: nothing to consume
        while (_head is not null && !ReferenceEquals(_head, segment))
        {
            var next = (ReceiveSegment?)_head.Next;
            Recycle(_head);
            _head = next;
        }
        _headStart = consumed.GetInteger();
        // Drop blocks read to their end; once all is consumed the chain is empty and holds no block.
        while (_head is not null && _headStart >= _head.End)
        {
            if (ReferenceEquals(_head, _tail))
            {
                Recycle(_head);
                _head = _tail = null;
                _headStart = 0;
                break;
            }
            var next = (ReceiveSegment)_head.Next!;
            Recycle(_head);
            _head = next;
            _headStart = 0;
        }
    }

    public override void CancelPendingRead()
    {
        Interlocked.Exchange(ref _cancelRequested, 1);
        // A parked read is resumed through the socket, so its completion stays on the one path that owns the buffers.
        if (Volatile.Read(ref _parked) != 0) _socket.WakeReader();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed) return;
        _completed = true;
        while (_head is not null)
        {
            var next = (ReceiveSegment?)_head.Next;
            _head.Return();
            _head = next;
        }
        _tail = null;
    }

    private bool TakeCancel() => CancelRequested && Interlocked.Exchange(ref _cancelRequested, 0) != 0;

    private ReadResult Result(bool canceled)
    {
        var buffer = _head is null
            ? ReadOnlySequence<byte>.Empty
            : new ReadOnlySequence<byte>(_head, _headStart, _tail!, _tail!.End);
        return new ReadResult(buffer, canceled, _ended);
    }

    /// <summary>Receives once bytes are there: parks on readiness when allowed, else reports NotReady.</summary>
    private Pump Receive(bool resumed, bool mayPark)
    {
        if (_socket.ReceivesThroughRing) return ReceiveFromRing(mayPark);
        while (true)
        {
            if (TakeCancel()) return Pump.Canceled;
            if (!resumed && !_readAgain)
            {
                if (!mayPark && !_socket.MaybeReadable) return Pump.NotReady;
                ReleaseEmptyTail(); // park without holding a block
                // On a ring loop, the first read moves the connection onto the ring's multishot receive: from then on
                // bytes arrive as completions and no receive costs a syscall, not even the first: a request that came
                // with the handshake is taken by the receive's first pass when the loop's next entry submits it.
                // (A PROXY header or ClientHello was peeked before this reader existed.)
                if (mayPark && _socket.TryStartRingReceive(_pool)) return ReceiveFromRing(mayPark);
                if (!_socket.TryWaitReadable(OnReadable, this)) return Pump.Parked;
                if (_socket.IsClosed) return Fail(ReceiveEnd.Local, new ConnectionAbortedException("connection aborted"));
            }
            resumed = false;
            _readAgain = false;

            var tail = _tail;
            if (tail is null || tail.Free.Length == 0) tail = Append();
            int n;
            try
            {
                n = _socket.Receive(tail.Free.Span);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return Fail(ReceiveEnd.Reset, new ConnectionResetException("connection reset by peer", e));
            }
            catch (ObjectDisposedException)
            {
                return Fail(ReceiveEnd.Local, new ConnectionAbortedException("connection aborted"));
            }
            catch (Exception e)
            {
                return Fail(ReceiveEnd.Error, new ConnectionAbortedException("receive failed: " + e.Message, e));
            }
            if (n < 0)
            {
                if (!mayPark)
                {
                    ReleaseEmptyTail();
                    return Pump.NotReady;
                }
                continue; // a stale edge: wait for a real one
            }
            if (n == 0)
            {
                ReleaseEmptyTail();
                _ended = true;
                Volatile.Write(ref _end, (int)ReceiveEnd.Fin);
                return Pump.Ended;
            }
            tail.Grow(n);
            _bytesReceived += n;
            Volatile.Write(ref _lastReceiveMs, Environment.TickCount64);
            // A full block suggests more is queued in the kernel: the next read receives at once instead of waiting
            // for an edge that already came. A short read drained the socket; later bytes raise a new edge.
            _readAgain = tail.Free.Length == 0;
            _examinedAll = false;
            return Pump.Data;
        }
    }

    /// <summary>Takes what the ring's multishot receive delivered; parks until it delivers more when allowed, else reports NotReady.</summary>
    private Pump ReceiveFromRing(bool mayPark)
    {
        while (true)
        {
            if (TakeCancel()) return Pump.Canceled;
            var chain = _socket.TakeReceived(out var end);
            if (chain is not null)
            {
                AppendReceived(chain);
                return Pump.Data;
            }
            if (end == EpollSocket.RingFin)
            {
                _ended = true;
                Volatile.Write(ref _end, (int)ReceiveEnd.Fin);
                return Pump.Ended;
            }
            if (end != EpollSocket.RingOpen)
            {
                var e = EpollSocket.RingEndException(end);
                return e.SocketErrorCode == SocketError.ConnectionReset
                    ? Fail(ReceiveEnd.Reset, new ConnectionResetException("connection reset by peer", e))
                    : Fail(ReceiveEnd.Error, new ConnectionAbortedException("receive failed: " + e.Message, e));
            }
            if (_socket.IsClosed) return Fail(ReceiveEnd.Local, new ConnectionAbortedException("connection aborted"));
            if (!mayPark) return Pump.NotReady;
            ReleaseEmptyTail();
            if (!_socket.TryWaitRingReceive(OnReadable, this)) return Pump.Parked;
        }
    }

    /// <summary>Links segments the ring filled (oldest first) after the chain's tail.</summary>
    private void AppendReceived(ReceiveSegment chain)
    {
        var tail = _tail;
        var index = tail is null ? 0 : tail.RunningIndex + tail.End;
        if (tail is null)
        {
            _head = chain;
            _headStart = 0;
        }
        else
        {
            tail.Link(chain);
        }
        long received = 0;
        var segment = chain;
        while (true)
        {
            segment.Place(index);
            index += segment.End;
            received += segment.End;
            if (segment.Next is not ReceiveSegment next) break;
            segment = next;
        }
        _tail = segment;
        _bytesReceived += received;
        Volatile.Write(ref _lastReceiveMs, Environment.TickCount64);
        _examinedAll = false;
    }

    private Pump Fail(ReceiveEnd end, Exception error)
    {
        ReleaseEmptyTail();
        _ended = true;
        _error ??= error;
        Volatile.Write(ref _end, (int)end);
        return Pump.Failed;
    }

    private static readonly Action<object?> OnReadable = static state => ((SocketReader)state!).Resume();

    private void Resume()
    {
        bool ready;
        try
        {
            ready = _socket.EndReadWait();
        }
        catch (Exception)
        {
            ready = false;
        }
        var pump = ready
            ? Receive(resumed: !CancelRequested, mayPark: true)
            : Fail(ReceiveEnd.Local, new ConnectionAbortedException("connection aborted"));
        if (pump == Pump.Parked) return;
        Volatile.Write(ref _parked, 0);
        if (pump == Pump.Failed) _core.SetException(_error!);
        else _core.SetResult(Result(canceled: pump == Pump.Canceled));
    }

    // A wake-up from CancelPendingRead must not turn into a receive: Resume lets Receive see the flag first.
    private bool CancelRequested => Volatile.Read(ref _cancelRequested) != 0;

    private ReceiveSegment Append()
    {
        var segment = ReceiveSegment.Rent();
        var tail = _tail;
        segment.Attach(_pool.Rent(), tail is null ? 0 : tail.RunningIndex + tail.End);
        if (tail is null)
        {
            _head = segment;
            _headStart = 0;
        }
        else
        {
            tail.Link(segment);
        }
        _tail = segment;
        return segment;
    }

    /// <summary>Gives back a tail block that received nothing, so a parked or ended reader holds no memory.</summary>
    private void ReleaseEmptyTail()
    {
        var tail = _tail;
        if (tail is null || tail.End != 0) return;
        if (ReferenceEquals(tail, _head))
        {
            _head = _tail = null;
            _headStart = 0;
            Recycle(tail);
            return;
        }
        // Find the segment before the tail (chains are one or two blocks long in practice).
        var previous = _head!;
        while (!ReferenceEquals(previous.Next, tail)) previous = (ReceiveSegment)previous.Next!;
        previous.Link(null!);
        _tail = previous;
        Recycle(tail);
    }

    private static void Recycle(ReceiveSegment segment) => segment.Return();

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowCompleted() => throw new InvalidOperationException("reading is not allowed after the reader was completed");

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
