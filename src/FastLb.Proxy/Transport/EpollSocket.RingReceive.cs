using System.Buffers;
using System.Net.Sockets;

namespace FastLb.Proxy.Transport;

internal sealed partial class EpollSocket
{
    /// <summary><see cref="TakeReceived"/>'s end: the stream is still open.</summary>
    internal const int RingOpen = 0;

    /// <summary><see cref="TakeReceived"/>'s end: the peer's FIN came after the last bytes.</summary>
    internal const int RingFin = 1;

    private MemoryPool<byte>? _ringPool;  // set once receiving goes through the ring's multishot receive
    private ReceiveSegment? _inbox;       // bytes the loop copied out of its provided buffers, newest first
    private int _ringEnd;                 // RingOpen, RingFin, or -errno: how the multishot receive ended
    private ReceiveSegment? _pending;     // Receive(Span)'s partly copied-out segment, oldest first (consumer only)
    private int _pendingStart;
    private int _pollArmed;               // 1 once a ring loop was asked to arm this socket's poll
    private ulong _sendInFlight;          // user_data of the ring send queued or in the kernel, or 0
    private int _deferredShutdown;        // 1 when a FIN waits for the ring's sends to drain
    private int _ringSends;               // ring sends written for this socket (its loop's thread only)
    private long _inboxBytes;             // bytes staged by the loop and not yet taken by the reader
    private int _receivePaused;           // 1 while the multishot receive is stopped because the reader fell behind

    /// <summary>
    /// Bytes the ring may deliver for a socket ahead of its reader. Past it the loop cancels the socket's multishot
    /// receive, so the rest waits in the kernel's socket buffer and TCP flow control slows the sender, as on epoll,
    /// where nothing is received before the reader asks; once the reader took them the receive is armed again.
    /// Without it a reader held up by a slow peer on its other side (a client downloading from a fast backend)
    /// would have the whole transfer buffered in the process.
    /// </summary>
    internal const int RingReceiveBound = 256 * 1024;

    /// <summary>True once received bytes come from the loop's multishot receive rather than from recv calls.</summary>
    public bool ReceivesThroughRing => Volatile.Read(ref _ringPool) is not null;

    /// <summary>
    /// Loop thread: records the ring send queued for this socket (0: none). A full fence before the caller looks at
    /// <see cref="IsClosed"/>, as Teardown sets the flag before it reads this: either the close sees the send and
    /// cancels it, or the send sees the close and is not queued.
    /// </summary>
    internal void SetSendInFlight(ulong userData) => Interlocked.Exchange(ref _sendInFlight, userData);

    /// <summary>Loop thread: counts a ring send written for this socket and answers how many there were, this one included.</summary>
    internal int CountRingSend() => ++_ringSends;

    /// <summary>Bytes the ring delivered that the reader has not taken yet.</summary>
    internal long InboxBytes => Interlocked.Read(ref _inboxBytes);

    /// <summary>True while the multishot receive is stopped because the reader fell <see cref="RingReceiveBound"/> behind.</summary>
    internal bool ReceivePaused => Volatile.Read(ref _receivePaused) != 0;

    /// <summary>True when a ring loop was asked to arm this socket's readiness poll (so closing must cancel it).</summary>
    internal bool PollArmed => Volatile.Read(ref _pollArmed) != 0;

    /// <summary>
    /// On a ring loop, moves receiving onto a multishot receive with provided buffers: from now on the loop copies
    /// each completion's bytes into blocks of <paramref name="pool"/> and gives the kernel its buffer back at once, so
    /// a connection waiting for bytes holds no buffer anywhere, and receiving costs no syscall of its own. False on an
    /// epoll loop (or a closed socket); idempotent. Peek and splice need the socket's own queue: call this only once
    /// the connection will be read through <see cref="TakeReceived"/> or <see cref="Receive"/>.
    /// </summary>
    public bool TryStartRingReceive(MemoryPool<byte> pool)
    {
        if (!Loop.UsesRing || IsClosed) return false;
        if (Interlocked.CompareExchange(ref _ringPool, pool, null) is not null) return true;
        if (!EnsureRegistered(poll: false))
        {
            Abort();
            return true; // the reader finds it closed
        }
        Loop.ArmReceive(this);
        return true;
    }

    /// <summary>
    /// Takes what the ring received so far: the segments oldest first (linked through Next, each with its bytes), or
    /// null with <paramref name="end"/> telling still open (0), end of stream (1), or the connection's -errno.
    /// </summary>
    public ReceiveSegment? TakeReceived(out int end)
    {
        ConsumeReadReadiness(); // a completion from now on marks the read side Ready again
        // End first: the loop pushes a completion's bytes before it records the end, so seeing the end here means
        // the exchange below finds every byte that came before it.
        end = Volatile.Read(ref _ringEnd);
        var newest = Interlocked.Exchange(ref _inbox, null);
        if (newest is null) return null;
        end = RingOpen;
        ReceiveSegment? oldest = null;
        long taken = 0;
        while (newest is not null)
        {
            var next = (ReceiveSegment?)newest.Next;
            taken += newest.End;
            newest.Link(oldest!);
            oldest = newest;
            newest = next;
        }
        Interlocked.Add(ref _inboxBytes, -taken);
        // The reader caught up: receive again (the bytes held back meanwhile wait in the socket).
        if (Volatile.Read(ref _receivePaused) != 0 && Interlocked.Exchange(ref _receivePaused, 0) != 0 && !IsClosed) Loop.ArmReceive(this);
        return oldest;
    }

    /// <summary>Parks until the ring delivers bytes or the end (no peer-close shortcut: the end comes as a completion).</summary>
    public bool TryWaitRingReceive(Action<object?> callback, object state) => !Arm(ref _readState, _readWaiter, callback, state, poll: false);

    /// <summary>An end of stream or failure the ring reported as the exception a receive would throw.</summary>
    internal static SocketException RingEndException(int end) => SocketSyscalls.ToException(-end);

    /// <summary>Receive(Span) on a socket receiving through the ring: copies from what the loop delivered.</summary>
    private int ReceiveFromRing(Span<byte> buffer)
    {
        // The consumer owns _pending while it copies; a close from another thread frees whatever is parked there.
        var pending = Interlocked.Exchange(ref _pending, null);
        var start = _pendingStart;
        if (pending is null)
        {
            pending = TakeReceived(out var end);
            start = 0;
            if (pending is null)
            {
                ObjectDisposedException.ThrowIf(IsClosed, this);
                if (end == RingOpen) return -1;
                if (end == RingFin) return 0;
                throw RingEndException(end);
            }
        }
        var copied = 0;
        while (pending is not null && copied < buffer.Length)
        {
            var available = pending.Memory.Span[start..];
            var n = Math.Min(available.Length, buffer.Length - copied);
            available[..n].CopyTo(buffer[copied..]);
            copied += n;
            start += n;
            if (start == pending.End)
            {
                var next = (ReceiveSegment?)pending.Next;
                pending.Return();
                pending = next;
                start = 0;
            }
        }
        if (pending is not null)
        {
            _pendingStart = start;
            Volatile.Write(ref _pending, pending);
            if (IsClosed) FreeChain(Interlocked.Exchange(ref _pending, null));
            else Signal(ref _readState, _readWaiter); // more to copy: the next wait must not park
        }
        return copied;
    }

    /// <summary>
    /// Loop thread: a multishot receive completed with <paramref name="data"/> (the kernel's buffer, handed back right
    /// after this returns). Copies it into pooled blocks for the reader: true when the reader should be woken
    /// (<see cref="SignalRingReceived"/>), false when the socket closed meanwhile and the bytes were dropped.
    /// </summary>
    internal bool StageRingReceived(ReadOnlySpan<byte> data)
    {
        var pool = _ringPool!;
        // Counted before the push, so the reader's take (which subtracts) never sees more taken than counted.
        if (Interlocked.Add(ref _inboxBytes, data.Length) > RingReceiveBound && Interlocked.CompareExchange(ref _receivePaused, 1, 0) == 0)
        {
            Loop.PauseReceive(this);
        }
        while (!data.IsEmpty)
        {
            var segment = ReceiveSegment.Rent();
            segment.Attach(pool.Rent(), 0);
            var n = Math.Min(data.Length, segment.Free.Length);
            data[..n].CopyTo(segment.Free.Span);
            segment.Grow(n);
            data = data[n..];
            while (true)
            {
                var top = Volatile.Read(ref _inbox);
                segment.Link(top!);
                if (Interlocked.CompareExchange(ref _inbox, segment, top) == top) break;
            }
        }
        // A close that raced this push discarded the inbox before or after it: whoever exchanges it frees it.
        if (!IsClosed) return true;
        DiscardReceived();
        return false;
    }

    /// <summary>Loop thread: wakes the reader after <see cref="StageRingReceived"/> (its continuation runs inline, here).</summary>
    internal void SignalRingReceived() => Signal(ref _readState, _readWaiter);

    /// <summary>Loop thread: the multishot receive ended for good (0 = end of stream, else -errno).</summary>
    internal void OnRingReceiveEnded(int res)
    {
        _peerClosed = true;
        Volatile.Write(ref _ringEnd, res == 0 ? RingFin : res);
        Signal(ref _readState, _readWaiter);
    }

    /// <summary>Frees the bytes the ring delivered and nobody took (the socket closed, or its reader completed).</summary>
    internal void DiscardReceived() => FreeChain(Interlocked.Exchange(ref _inbox, null));

    /// <summary>On close: frees the ring-delivered bytes nobody will read, in the inbox and in Receive(Span)'s remainder.</summary>
    private void DiscardRingBytes()
    {
        if (!ReceivesThroughRing) return;
        DiscardReceived();
        FreeChain(Interlocked.Exchange(ref _pending, null));
    }

    private static void FreeChain(ReceiveSegment? segment)
    {
        while (segment is not null)
        {
            var next = (ReceiveSegment?)segment.Next;
            segment.Return();
            segment = next;
        }
    }
}
