using System.IO.Pipelines;

namespace FastLb.Proxy.Transport;

/// <summary>Sends through the loop's ring: a flush hands its blocks over and completes without waiting for the kernel.</summary>
/// <remarks>
/// <para>
/// A flush on the socket's own loop thread moves the written blocks onto the send chain (owned by that thread from
/// then on) and asks the loop for a send; the SQE is written with the loop's next submission from the oldest block,
/// so every flush of one iteration goes out with one io_uring_enter and no syscall of its own. One send is in flight
/// per socket at a time, which keeps the bytes in order; its completion gives the sent blocks back to the pool and
/// submits the next one. The flush waits only while more than <see cref="RingSendBound"/> bytes are handed over and
/// not yet taken by the kernel: that is the backpressure epoll gets from a full send buffer.
/// </para>
/// <para>
/// A short send continues from its first unsent byte; a failed one aborts the connection and fails the next flush.
/// A flush off the loop thread sends directly as on epoll when nothing is in flight, and otherwise waits for the
/// ring's sends to drain (then the loop hands its bytes over), so the two paths never reorder bytes. A clean
/// Complete sends FIN only after the last send completed; closing the socket cancels the send in flight, which
/// drops what the kernel had not taken, as closing does on epoll.
/// </para>
/// </remarks>
internal sealed partial class SocketWriter
{
    /// <summary>Bytes handed to the ring and not yet taken by the kernel above which a flush waits.</summary>
    internal const int RingSendBound = 64 * 1024;

    private const int NoWait = 0;
    private const int WaitBelowBound = 1;      // a flush on the loop handed over past the bound
    private const int WaitDrainThenFlush = 2;  // a flush off the loop while sends were in flight
    private const int WaitDrainThenFinish = 3; // CompleteAsync with sends in flight

    private readonly bool _ring;
    private SendSegment? _sendHead; // blocks handed to the ring, oldest first (loop thread only)
    private SendSegment? _sendTail;
    private long _queued;           // bytes handed over and not yet sent; written on the loop thread only
    private int _ringWait;
    private bool _sending;          // the loop holds a send for this writer, queued or in the kernel (loop thread only)
    private bool _finishWhenDrained;

    /// <summary>The socket this writer sends on (the loop fills the send's SQE with its descriptor).</summary>
    internal EpollSocket Socket => _socket;

    /// <summary>Bytes handed to the ring that the kernel has not taken yet (0 on epoll).</summary>
    internal long RingQueued => Volatile.Read(ref _queued);

    private ValueTask<FlushResult> FlushThroughRing()
    {
        if (!_socket.Loop.IsCurrent)
        {
            if (Volatile.Read(ref _queued) == 0) return FlushDirect();
            // Sends are in flight: sending here would overtake them. Wait for the loop to drain them; it then
            // hands these bytes over itself.
            _core.Reset();
            Interlocked.Exchange(ref _ringWait, WaitDrainThenFlush);
            if (Volatile.Read(ref _queued) == 0 && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitDrainThenFlush) == WaitDrainThenFlush)
            {
                return FlushDirect(); // drained meanwhile, and the loop did not take the wait
            }
            return new ValueTask<FlushResult>(this, _core.Version);
        }
        if (_head is not null)
        {
            if (TakeCancel()) return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
            HandOver();
        }
        if (Volatile.Read(ref _queued) <= RingSendBound || Volatile.Read(ref _failed)) return new ValueTask<FlushResult>(RingResult());
        _core.Reset();
        Volatile.Write(ref _ringWait, WaitBelowBound);
        // A cancel that came before the wait was visible would otherwise wait for the bound.
        if (Volatile.Read(ref _cancelRequested) != 0 && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitBelowBound) == WaitBelowBound)
        {
            TakeCancel();
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
        }
        return new ValueTask<FlushResult>(this, _core.Version);
    }

    private FlushResult RingResult() => new(isCanceled: false, isCompleted: Volatile.Read(ref _failed));

    /// <summary>Loop thread: moves the written blocks onto the send chain and makes sure a send is queued for them.</summary>
    private void HandOver()
    {
        long bytes = 0;
        for (var segment = _head; segment is not null; segment = segment.Next) bytes += segment.End - segment.Start;
        if (bytes == 0)
        {
            ReleaseAll();
            return;
        }
        if (_sendTail is null) _sendHead = _head;
        else _sendTail.Next = _head;
        _sendTail = _tail;
        _head = _tail = null;
        _bytesSent += bytes;
        Interlocked.Add(ref _queued, bytes);
        if (!_sending) SendNext();
    }

    /// <summary>Loop thread: queues a send of the oldest unsent block, or handles the drained chain.</summary>
    private void SendNext()
    {
        while (_sendHead is { } head && head.Start == head.End)
        {
            _sendHead = head.Next;
            if (_sendHead is null) _sendTail = null;
            head.Return();
        }
        if (_sendHead is null) return;
        if (_socket.Loop.QueueSend(this))
        {
            _sending = true;
            return;
        }
        FailRing(); // closed (or the loop is stopping): what was not sent is dropped, as a close does on epoll
    }

    /// <summary>Loop thread, as the loop writes the SQE: the bytes the queued send covers (the oldest block's unsent part).</summary>
    internal ReadOnlyMemory<byte> RingSendData()
    {
        var head = _sendHead!;
        return head.Block[head.Start..head.End];
    }

    /// <summary>Loop thread: the ring's send completed with <paramref name="res"/> (bytes sent or -errno).</summary>
    internal void OnRingSent(int res)
    {
        _sending = false;
        if (res <= 0)
        {
            // An error (or a cancel: the socket closed) ends the connection; nothing more goes out.
            FailRing();
        }
        else
        {
            // A short send (only on an error or signal with MSG_WAITALL) resumes from its first unsent byte.
            _sendHead!.Start += res;
            Interlocked.Add(ref _queued, -res);
            SendNext();
        }
        AfterRingProgress();
    }

    /// <summary>Loop thread: drops the send chain and marks the writer failed; the connection is aborted.</summary>
    private void FailRing()
    {
        Volatile.Write(ref _failed, true);
        var segment = _sendHead;
        while (segment is not null)
        {
            var next = segment.Next;
            segment.Return();
            segment = next;
        }
        _sendHead = _sendTail = null;
        Interlocked.Exchange(ref _queued, 0);
        _socket.Abort(); // idempotent; a send that failed left the stream unusable
    }

    /// <summary>Loop thread: after a completion, resumes whoever waits for the ring (full fences on both sides of each wait).</summary>
    private void AfterRingProgress()
    {
        var queued = Volatile.Read(ref _queued);
        if (queued == 0)
        {
            _socket.SetSendInFlight(0);
            _socket.RunDeferredShutdown();
        }
        if (queued == 0 && _finishWhenDrained)
        {
            _finishWhenDrained = false;
            Finish(null); // FIN after the last byte (or a reset when a send failed)
            return;
        }
        var failed = Volatile.Read(ref _failed);
        switch (Volatile.Read(ref _ringWait))
        {
            case WaitBelowBound when queued <= RingSendBound && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitBelowBound) == WaitBelowBound:
                _core.SetResult(RingResult());
                break;
            case WaitDrainThenFlush when queued == 0 && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitDrainThenFlush) == WaitDrainThenFlush:
                // The flush that waited is on this thread now (this is the socket's loop): hand its bytes over.
                if (!failed && _head is not null)
                {
                    if (TakeCancel())
                    {
                        _core.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
                        break;
                    }
                    HandOver();
                    if (Volatile.Read(ref _queued) > RingSendBound && !Volatile.Read(ref _failed))
                    {
                        Volatile.Write(ref _ringWait, WaitBelowBound);
                        break;
                    }
                }
                _core.SetResult(RingResult());
                break;
            case WaitDrainThenFinish when queued == 0 && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitDrainThenFinish) == WaitDrainThenFinish:
                if (!failed && _head is not null)
                {
                    HandOver(); // written off the loop before CompleteAsync: send it, then finish
                    if (Volatile.Read(ref _queued) != 0)
                    {
                        Volatile.Write(ref _ringWait, WaitDrainThenFinish);
                        break;
                    }
                }
                Finish(null);
                _core.SetResult(default);
                break;
        }
    }

    /// <summary>Any thread: a cancel ends a flush waiting on the ring (its handed-over bytes stay queued).</summary>
    private void CancelRingWait()
    {
        var wait = Volatile.Read(ref _ringWait);
        if (wait is not (WaitBelowBound or WaitDrainThenFlush)) return;
        if (Interlocked.CompareExchange(ref _ringWait, NoWait, wait) != wait) return;
        TakeCancel();
        _core.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
    }

    /// <summary>Complete on a ring writer: true when the finish was left to the ring (sends in flight), false to finish here.</summary>
    private bool CompleteThroughRing(Exception? exception)
    {
        if (exception is not null || Volatile.Read(ref _failed)) return false;
        if (_socket.Loop.IsCurrent)
        {
            if (_head is not null) HandOver();
            if (Volatile.Read(ref _queued) == 0 || Volatile.Read(ref _failed)) return false;
            // FIN after the last byte: the drain finishes.
            _completed = true;
            _finishWhenDrained = true;
            return true;
        }
        if (Volatile.Read(ref _queued) == 0) return false; // the epoll path's Complete, on this thread
        _ = CompleteAsync().AsTask(); // rare: completing off the loop while sends are in flight
        return true;
    }

    /// <summary>CompleteAsync on a ring writer: the wait for the ring's sends to drain, or null to complete as on epoll.</summary>
    private ValueTask? CompleteAsyncThroughRing(Exception? exception)
    {
        if (exception is not null || Volatile.Read(ref _failed)) return null;
        if (_socket.Loop.IsCurrent)
        {
            if (_head is not null) HandOver();
            if (Volatile.Read(ref _queued) == 0 || Volatile.Read(ref _failed)) return null;
            _core.Reset();
            Volatile.Write(ref _ringWait, WaitDrainThenFinish);
            return new ValueTask(this, _core.Version);
        }
        if (Volatile.Read(ref _queued) == 0) return null;
        _core.Reset();
        Interlocked.Exchange(ref _ringWait, WaitDrainThenFinish);
        if (Volatile.Read(ref _queued) == 0 && Interlocked.CompareExchange(ref _ringWait, NoWait, WaitDrainThenFinish) == WaitDrainThenFinish)
        {
            return null; // drained meanwhile: finish here
        }
        return new ValueTask(this, _core.Version);
    }
}
