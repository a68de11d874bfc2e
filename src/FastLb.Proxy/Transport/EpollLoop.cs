using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;

namespace FastLb.Proxy.Transport;

/// <summary>One event loop: a thread blocked in epoll_wait that turns edge-triggered readiness into inline continuations.</summary>
/// <remarks>
/// Sockets register once for in, out and peer-close, edge-triggered; the loop never reads or writes itself, it only
/// flips a socket's readiness and resumes whoever waits for it, on this thread. The socket code then does the one
/// syscall that moves bytes. Each registration gets a token (slot index + sequence), so an event still queued for a
/// socket closed earlier in the same batch cannot reach the socket that reused its slot or fd.
/// Registration takes a lock (once per connection); dispatch takes none.
/// </remarks>
internal sealed unsafe class EpollLoop
{
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Lock _registrationLock = new();
    private readonly Stack<int> _freeSlots = new();
    private EpollSocket?[] _slots = new EpollSocket?[256];
    private int _nextSlot;
    private uint _sequence;
    private readonly ConcurrentQueue<IThreadPoolWorkItem> _posted = new();
    private int _sleeping; // 1 from just before epoll_wait until it returns: a Post then writes the eventfd

    [ThreadStatic]
    private static int t_idPlusOne; // 0 on threads that are not an event loop

    /// <param name="id">The loop's index.</param>
    /// <param name="cpu">The CPU to pin the loop's thread to, or -1 to leave it to the scheduler.</param>
    public EpollLoop(int id, int cpu = -1)
    {
        Id = id;
        Cpu = cpu;
        _epfd = SocketSyscalls.EpollCreate();
        if (_epfd < 0) throw SocketSyscalls.ToException(-_epfd);
        _wakeFd = SocketSyscalls.CreateEventFd();
        if (_wakeFd < 0) throw SocketSyscalls.ToException(-_wakeFd);
        var rc = SocketSyscalls.EpollAdd(_epfd, _wakeFd, SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLET, WakeToken);
        if (rc < 0) throw SocketSyscalls.ToException(-rc);
        var thread = new Thread(Run) { IsBackground = true, Name = $"fastlb-loop-{id}" };
        thread.UnsafeStart();
    }

    public int Id { get; }

    /// <summary>The <see cref="Id"/> of the loop running on the calling thread, or -1 on any other thread.</summary>
    public static int CurrentId => t_idPlusOne - 1;

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
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0) SocketSyscalls.SignalEventFd(_wakeFd);
    }

    /// <summary>Adds <paramref name="socket"/> (edge-triggered in, out, peer close); returns 0 or -errno.</summary>
    public int Register(EpollSocket socket, int fd)
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
            var token = ((ulong)++_sequence << 32) | (uint)index;
            socket.Token = token;
            _slots[index] = socket;
            var rc = SocketSyscalls.EpollAdd(_epfd, fd,
                SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLRDHUP | SocketSyscalls.EPOLLET, token);
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
    /// Forgets <paramref name="socket"/> so events still queued for it are dropped. No epoll_ctl(DEL): closing the fd
    /// (never duplicated) removes it from the epoll set, which saves a syscall per connection. Idempotent.
    /// </summary>
    public void Unregister(EpollSocket socket)
    {
        lock (_registrationLock)
        {
            var index = (int)(uint)socket.Token;
            if (index >= _slots.Length || !ReferenceEquals(_slots[index], socket)) return;
            _slots[index] = null;
            _freeSlots.Push(index);
        }
    }

    private void Run()
    {
        t_idPlusOne = Id + 1;
        if (Cpu >= 0)
        {
            var rc = CpuAffinity.PinCurrentThread(Cpu);
            if (rc < 0) Log.Warn($"event loop {Id}: cannot pin to CPU {Cpu} (errno {-rc}); left to the scheduler");
        }
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * SocketSyscalls.EpollEventSize));
        while (true)
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
