using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;

namespace FastLb.Proxy.Transport;

/// <summary>One event loop: a thread blocked in epoll_wait (or io_uring_enter) that turns edge-triggered readiness into inline continuations.</summary>
/// <remarks>
/// Sockets register once for in, out and peer-close, edge-triggered; the loop never reads or writes itself, it only
/// flips a socket's readiness and resumes whoever waits for it, on this thread. The socket code then does the one
/// syscall that moves bytes. Each registration gets a token (slot index + sequence), so an event still queued for a
/// socket closed earlier in the same batch cannot reach the socket that reused its slot or fd.
/// Registration takes a lock (once per connection); dispatch takes none. A loop belongs to one <see cref="EventLoops"/>,
/// which stops it; the thread closes its epoll and eventfd as it exits.
/// With <c>io: io_uring</c> the same loop waits in io_uring_enter instead (see EpollLoop.Ring.cs): readiness comes from
/// multishot polls on the loop's ring, and everything else here (slots, tokens, posted work) is shared.
/// </remarks>
// CA1001: the loop thread disposes both handles as it exits (see Run); disposing them from another thread would race it.
#pragma warning disable CA1001
internal sealed unsafe partial class EpollLoop
#pragma warning restore CA1001
{
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;
    private const uint SequenceMask = 0x3FFF_FFFF;

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly SocketFdHandle? _epollHandle; // closes _epfd once the thread exited and no Register uses it; null on a ring loop
    private readonly SocketFdHandle _wakeHandle;  // closes _wakeFd once the thread exited and no Post signals it
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _clientConnections; // written once per connection, by the thread that accepted or closed it
    private readonly Lock _registrationLock = new();
    private readonly Stack<int> _freeSlots = new();
    private EpollSocket?[] _slots = new EpollSocket?[256];
    private int _nextSlot;
    private uint _sequence;
    private readonly ConcurrentQueue<IThreadPoolWorkItem> _posted = new();
    private int _sleeping; // 1 from just before epoll_wait until it returns: a Post then writes the eventfd

    [ThreadStatic]
    private static EpollLoop? t_current; // null on threads that are not an event loop

    /// <param name="group">The loops this one belongs to (and is stopped by).</param>
    /// <param name="id">The loop's index in <paramref name="group"/>.</param>
    /// <param name="cpu">The CPU to pin the loop's thread to, or -1 to leave it to the scheduler.</param>
    /// <param name="ringEntries">0 = epoll; otherwise run on an io_uring with this many SQ entries (created on the loop's thread).</param>
    /// <exception cref="IOException">The ring could not be set up (the message says why).</exception>
    /// <param name="receiveBuffers">A ring loop's provided receive buffers (a power of two; tests use a few to exhaust them).</param>
    /// <param name="receiveBufferSize">Bytes per provided receive buffer.</param>
    /// <param name="fileTableSize">A ring loop's registered file slots (0: none; tests use a few to overflow them).</param>
    internal EpollLoop(EventLoops group, int id, int cpu = -1, uint ringEntries = 0,
        int receiveBuffers = DefaultReceiveBuffers, int receiveBufferSize = DefaultReceiveBufferSize, int fileTableSize = DefaultFileTableSize)
    {
        Group = group;
        Id = id;
        Cpu = cpu;
        _ringEntries = ringEntries;
        _receiveBuffers = receiveBuffers;
        _receiveBufferSize = receiveBufferSize;
        _fileTableRequested = fileTableSize;
        if (ringEntries == 0)
        {
            _epfd = SocketSyscalls.EpollCreate();
            if (_epfd < 0) throw SocketSyscalls.ToException(-_epfd);
            _epollHandle = new SocketFdHandle(_epfd);
        }
        else
        {
            _epfd = -1;
            _ringRequests = new ConcurrentQueue<RingRequest>();
        }
        _wakeFd = SocketSyscalls.CreateEventFd();
        if (_wakeFd < 0)
        {
            _epollHandle?.Dispose();
            throw SocketSyscalls.ToException(-_wakeFd);
        }
        _wakeHandle = new SocketFdHandle(_wakeFd);
        if (_epollHandle is not null)
        {
            var rc = SocketSyscalls.EpollAdd(_epfd, _wakeFd, SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLET, WakeToken);
            if (rc < 0)
            {
                _wakeHandle.Dispose();
                _epollHandle.Dispose();
                throw SocketSyscalls.ToException(-rc);
            }
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"fastlb-loop-{id}" };
        _thread.UnsafeStart();
        if (ringEntries != 0) AwaitRingSetup(); // SINGLE_ISSUER: the ring must be created by the thread that uses it
    }

    /// <summary>The loops this one belongs to.</summary>
    public EventLoops Group { get; }

    public int Id { get; }

    /// <summary>The loop running on the calling thread, or null on any other thread.</summary>
    public static EpollLoop? Current => t_current;

    /// <summary>The <see cref="Id"/> of the loop running on the calling thread, or -1 on any other thread.</summary>
    public static int CurrentId => t_current?.Id ?? -1;

    /// <summary>True on this loop's own thread.</summary>
    public bool IsCurrent => ReferenceEquals(t_current, this);

    /// <summary>Accepted client connections open on this loop (any listener); accepting loops read it to keep loops even.</summary>
    public int ClientConnections => Volatile.Read(ref _clientConnections);

    /// <summary>Any thread: an accepted client socket now belongs to this loop (balanced by <see cref="ClientClosed"/>).</summary>
    internal void ClientOpened() => Interlocked.Increment(ref _clientConnections);

    /// <summary>Any thread: an accepted client socket of this loop closed.</summary>
    internal void ClientClosed() => Interlocked.Decrement(ref _clientConnections);

    /// <summary>The CPU this loop's thread is pinned to, or -1.</summary>
    public int Cpu { get; }

    /// <summary>
    /// Runs <paramref name="item"/> on this loop's thread, after the events it is handling now; any thread. The
    /// eventfd is written only when the loop sleeps in epoll_wait (or is about to): a busy loop picks the item up
    /// on its next turn without a syscall on either side.
    /// </summary>
    public void Post(IThreadPoolWorkItem item)
    {
        _posted.Enqueue(item);
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0) Wake();
    }

    /// <summary>
    /// Waits about <paramref name="milliseconds"/>, then continues on this loop's thread: a back-off (out of
    /// descriptors, at a connection limit) that neither spins nor moves the caller to a thread-pool thread.
    /// </summary>
    public Task DelayAsync(int milliseconds) => LoopResume.AfterDelayAsync(this, milliseconds);

    /// <summary>True once the loop was asked to stop: work posted from now on may not run.</summary>
    internal bool IsStopping => _stopping;

    /// <summary>Asks the thread to exit after the events it is handling now; it then closes the loop's fds.</summary>
    internal void Stop()
    {
        _stopping = true;
        Wake();
    }

    /// <summary>Waits (bounded) for the thread to exit after <see cref="Stop"/>; returns at once on the loop's own thread.</summary>
    internal void Join()
    {
        if (IsCurrent) return;
        if (!_thread.Join(TimeSpan.FromSeconds(5))) Log.Warn($"event loop {Id}: did not stop within 5 s");
    }

    /// <summary>Writes the eventfd, unless the loop already exited and closed it (the handle keeps the fd from being reused meanwhile).</summary>
    private void Wake()
    {
        var added = false;
        try
        {
            _wakeHandle.DangerousAddRef(ref added);
            SocketSyscalls.SignalEventFd(_wakeFd);
        }
        catch (ObjectDisposedException)
        {
            // The loop stopped: nothing to wake.
        }
        finally
        {
            if (added) _wakeHandle.DangerousRelease();
        }
    }

    /// <summary>Adds <paramref name="socket"/> (edge-triggered in, out, peer close); returns 0 or -errno.</summary>
    /// <param name="armPoll">
    /// A ring loop: also arm the socket's readiness poll (false gives it only a slot and token, for a socket whose
    /// receives complete through the ring). An epoll loop always adds the socket to its epoll set.
    /// </param>
    public int Register(EpollSocket socket, int fd, bool armPoll = true)
    {
        lock (_registrationLock)
        {
            int index;
            if (_freeSlots.Count > 0)
            {
                index = _freeSlots.Pop();
            }
            else
            {
                index = _nextSlot++;
                if (index == _slots.Length)
                {
                    var grown = new EpollSocket?[_slots.Length * 2];
                    Array.Copy(_slots, grown, _slots.Length);
                    Volatile.Write(ref _slots, grown);
                }
            }
            // 30 bits of sequence: a ring loop keeps the top two bits of user_data for the operation's kind.
            // Sequence 0 is skipped when it wraps: token 0 means "never registered".
            var sequence = ++_sequence & SequenceMask;
            if (sequence == 0) sequence = ++_sequence & SequenceMask;
            var token = ((ulong)sequence << 32) | (uint)index;
            socket.Token = token;
            _slots[index] = socket;
            if (_ringRequests is not null)
            {
                if (_stopping)
                {
                    _slots[index] = null;
                    _freeSlots.Push(index);
                    return -SocketSyscalls.EBADF;
                }
                if (armPoll) RequestRing(new RingRequest(RingOp.ArmPoll, socket, token));
                return 0;
            }
            int rc;
            var added = false;
            try
            {
                _epollHandle!.DangerousAddRef(ref added);
                rc = SocketSyscalls.EpollAdd(_epfd, fd,
                    SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLRDHUP | SocketSyscalls.EPOLLET, token);
            }
            catch (ObjectDisposedException)
            {
                rc = -SocketSyscalls.EBADF; // the loop stopped
            }
            finally
            {
                if (added) _epollHandle!.DangerousRelease();
            }
            if (rc < 0)
            {
                _slots[index] = null;
                _freeSlots.Push(index);
                return rc;
            }
            return 0;
        }
    }

    /// <summary>
    /// Takes <paramref name="fd"/> out of the epoll set now: needed for a descriptor another process also holds (a
    /// listening socket handed over by an upgrade), which closing alone would leave registered.
    /// </summary>
    public void RemoveFromEpoll(int fd)
    {
        // A ring loop cancels the socket's poll in Unregister, which the close that follows always calls.
        if (_epollHandle is not null) SocketSyscalls.EpollDelete(_epfd, fd);
    }

    /// <summary>
    /// Forgets <paramref name="socket"/> so events still queued for it are dropped. No epoll_ctl(DEL): closing the fd
    /// (never duplicated) removes it from the epoll set, which saves a syscall per connection. A ring loop queues a
    /// cancel of the socket's poll instead, submitted with the loop's next io_uring_enter. Idempotent.
    /// </summary>
    public void Unregister(EpollSocket socket)
    {
        lock (_registrationLock)
        {
            var index = (int)(uint)socket.Token;
            if (index >= _slots.Length || !ReferenceEquals(_slots[index], socket)) return;
            _slots[index] = null;
            _freeSlots.Push(index);
            // A ring's poll or receive holds a reference to the socket's file: without the cancel, close() would not release it.
            if (_ringRequests is not null)
            {
                // Either cancel also clears the socket's registered file, whose reference would keep it open too.
                var poll = socket.PollArmed;
                var receive = socket.ReceivesThroughRing;
                if (poll) RequestRing(new RingRequest(RingOp.CancelPoll, null, socket.Token));
                if (receive) RequestRing(new RingRequest(RingOp.CancelReceive, null, socket.Token));
                if (!poll && !receive) RequestRing(new RingRequest(RingOp.ReleaseFile, null, socket.Token));
            }
        }
    }

    private void Run()
    {
        t_current = this;
        CounterShard.Enter(); // this loop alone writes its shard of every traffic counter
        if (Cpu >= 0)
        {
            var rc = CpuAffinity.PinCurrentThread(Cpu);
            if (rc < 0) Log.Warn($"event loop {Id}: cannot pin to CPU {Cpu} (errno {-rc}); left to the scheduler");
        }
        if (_ringRequests is not null)
        {
            RunRing();
            return;
        }
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * SocketSyscalls.EpollEventSize));
        try
        {
            RunEvents(events);
        }
        finally
        {
            RunPosted(); // work posted before the stop (a close, a timeout) still runs, on this thread
            NativeMemory.Free(events);
            t_current = null;
            _wakeHandle.Dispose();
            _epollHandle!.Dispose();
        }
    }

    private void RunEvents(byte* events)
    {
        while (!_stopping)
        {
            RunPosted();
            // Announce the sleep before looking at the queue once more (a full fence between the two): a Post either
            // is seen here, or sees the flag and wakes the wait.
            Interlocked.Exchange(ref _sleeping, 1);
            var n = SocketSyscalls.EpollWait(_epfd, events, MaxEvents, _posted.IsEmpty ? -1 : 0);
            Volatile.Write(ref _sleeping, 0);
            if (n < 0)
            {
                if (n == -SocketSyscalls.EINTR) continue;
                Log.Error($"event loop {Id}: epoll_wait failed: errno {-n}");
                Thread.Sleep(10);
                continue;
            }
            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < n; i++)
            {
                SocketSyscalls.ReadEvent(events, i, out var mask, out var token);
                if (token == WakeToken)
                {
                    SocketSyscalls.DrainEventFd(_wakeFd);
                    continue;
                }
                var index = (int)(uint)token;
                if (index >= slots.Length) slots = Volatile.Read(ref _slots);
                var socket = index < slots.Length ? slots[index] : null;
                if (socket is null || socket.Token != token) continue; // closed earlier in this batch
                try
                {
                    socket.OnEvents(mask);
                }
                catch (Exception e)
                {
                    // Continuations catch their own failures; anything reaching here is a bug, not a reason to stop the loop.
                    Log.Error($"event loop {Id}: unhandled error in a socket continuation: {e}");
                }
            }
        }
    }

    private void RunPosted()
    {
        while (_posted.TryDequeue(out var item))
        {
            try
            {
                item.Execute();
            }
            catch (Exception e)
            {
                Log.Error($"event loop {Id}: unhandled error in posted work: {e}");
            }
        }
    }
}
