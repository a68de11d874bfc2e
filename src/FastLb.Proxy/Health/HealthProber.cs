using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Core.Tls;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Health;

/// <summary>
/// Runs the active health checks of every backend of every pool (shared or not) on one thread with its own epoll:
/// a non-blocking connect (tcp) or connect + one GET and its status line (http), cut at the timeout, then the next
/// check at start + interval, so checks of one backend never overlap. Each backend's first check starts at a random
/// offset within its interval, so checks of many backends never align. An http check of a service with <c>tls</c>
/// speaks the service's TLS: once connected, the socket goes to a <see cref="TlsCheck"/> (SslStream on the thread
/// pool) and its result comes back here through a queue; the deadline stays here.
/// </summary>
/// <remarks>
/// Cheap by construction: a check is a handful of syscalls on raw fds (socket, connect, epoll_ctl, send, recv, close)
/// and allocates nothing in steady state (the request bytes and status-line buffer are per target, the schedules
/// are array-backed heaps). A check closes with RST (SO_LINGER 0), as HAProxy does, so thousands of checks per
/// second leave no TIME_WAIT sockets behind. Results go into each backend's <see cref="BackendHealth"/>; the
/// traffic controller turns state changes into a new routing table.
/// </remarks>
internal sealed unsafe class HealthProber : IDisposable
{
    private const int MaxEvents = 128;
    private const ulong WakeToken = ulong.MaxValue;

    /// <summary>The longest the thread sleeps, so a new table (added backends, changed checks) is seen soon.</summary>
    private const int MaxWaitMs = 200;

    private readonly Router _router;
    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly Dictionary<BackendState, ProbeTarget> _targets = new(ReferenceEqualityComparer.Instance);
    private readonly List<ProbeTarget?> _slots = [];
    private readonly Stack<int> _freeSlots = new();
    private readonly PriorityQueue<ProbeTarget, long> _due = new();
    private readonly PriorityQueue<ProbeTarget, long> _deadlines = new();
    private readonly Random _random;
    private readonly ConcurrentQueue<TlsCheck> _tlsDone = new();
    private readonly Action<TlsCheck> _onTlsDone;
    private readonly Lock _wakeLock = new(); // a TLS check may finish after Dispose closed the eventfd
    private bool _wakeClosed;
    private RoutingTable? _seen;
    private volatile bool _stopping;
    private long _checks;
    private long _threadAllocated; // bytes the prober thread allocated since it started (the cost harness reads it)

    /// <param name="random">Seeded in tests; the first check of each backend starts at a random offset within its interval.</param>
    public HealthProber(Router router, Random? random = null)
    {
        _router = router;
        _random = random ?? new Random();
        _epfd = SocketSyscalls.EpollCreate();
        if (_epfd < 0) throw SocketSyscalls.ToException(-_epfd);
        _wakeFd = SocketSyscalls.CreateEventFd();
        if (_wakeFd < 0) throw SocketSyscalls.ToException(-_wakeFd);
        SocketSyscalls.EpollAdd(_epfd, _wakeFd, SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLET, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = "fastlb-health" };
        _onTlsDone = OnTlsDone;
    }

    /// <summary>Checks run since start (tests and the perf harness).</summary>
    public long Checks => Interlocked.Read(ref _checks);

    /// <summary>Managed bytes the prober thread has allocated since it started (steady state should add none per check).</summary>
    public long ThreadAllocatedBytes => Interlocked.Read(ref _threadAllocated);

    /// <summary>Backends being checked.</summary>
    public int Targets
    {
        get
        {
            lock (_targets) return _targets.Count;
        }
    }

    public void Start() => _thread.UnsafeStart();

    /// <summary>Looks at the routing table at once (after a publish) instead of within <see cref="MaxWaitMs"/>.</summary>
    public void Wake()
    {
        lock (_wakeLock)
        {
            if (!_wakeClosed) SocketSyscalls.SignalEventFd(_wakeFd);
        }
    }

    private static long NowMs => Environment.TickCount64;

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * SocketSyscalls.EpollEventSize));
        try
        {
            while (!_stopping)
            {
                try
                {
                    Reconcile();
                    var now = NowMs;
                    StartDue(now);
                    ExpireDeadlines(now);
                    Interlocked.Exchange(ref _threadAllocated, GC.GetAllocatedBytesForCurrentThread());
                    var n = SocketSyscalls.EpollWait(_epfd, events, MaxEvents, WaitMs(NowMs));
                    for (var i = 0; i < n; i++)
                    {
                        SocketSyscalls.ReadEvent(events, i, out var mask, out var token);
                        if (token == WakeToken)
                        {
                            SocketSyscalls.DrainEventFd(_wakeFd);
                            continue;
                        }
                        var slot = (int)(uint)token;
                        var target = slot < _slots.Count ? _slots[slot] : null;
                        if (target is null || target.Sequence != (uint)(token >> 32) || target.Phase == ProbePhase.Idle) continue;
                        OnReady(target, mask);
                    }
                    while (_tlsDone.TryDequeue(out var check)) FinishTls(check);
                }
                catch (Exception e)
                {
                    // A bug must not stop health checking for good.
                    Log.Error($"health prober: {e}");
                    Thread.Sleep(100);
                }
            }
        }
        finally
        {
            NativeMemory.Free(events);
            foreach (var t in _slots)
            {
                if (t is not null) CloseCheck(t);
            }
        }
    }

    private int WaitMs(long now)
    {
        var wake = now + MaxWaitMs;
        if (_due.TryPeek(out _, out var due)) wake = Math.Min(wake, due);
        if (_deadlines.TryPeek(out _, out var deadline)) wake = Math.Min(wake, deadline);
        return (int)Math.Clamp(wake - now, 0, MaxWaitMs);
    }

    /// <summary>Follows the current table: adds a target per checked backend, updates settings, drops backends that left.</summary>
    private void Reconcile()
    {
        var table = _router.Current;
        if (ReferenceEquals(table, _seen)) return;
        _seen = table;
        var now = NowMs;
        var present = new HashSet<BackendState>(ReferenceEqualityComparer.Instance);
        lock (_targets)
        {
            foreach (var service in table.Services.Values)
            {
                foreach (var pool in service.Pools)
                {
                    var poolConfig = service.Config.FindPool(pool.Name);
                    var check = poolConfig is null ? null : service.Config.CheckFor(poolConfig);
                    if (check is null) continue;
                    var tls = UpstreamTls.For(service.Config.Tls);
                    foreach (var b in pool.Backends)
                    {
                        present.Add(b.State);
                        if (_targets.TryGetValue(b.State, out var target))
                        {
                            target.EndPoint = b.EndPoint;
                            target.Tls = tls; // the next check speaks the reloaded settings
                            if (target.Update(check) && target.Phase == ProbePhase.Idle) Schedule(target, now + Offset(check));
                            continue;
                        }
                        var slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : _slots.Count;
                        target = new ProbeTarget(b.State, b.EndPoint, check, slot) { Tls = tls };
                        if (slot == _slots.Count) _slots.Add(target);
                        else _slots[slot] = target;
                        _targets[b.State] = target;
                        Schedule(target, now + Offset(check));
                    }
                }
            }
            foreach (var (state, target) in _targets)
            {
                if (present.Contains(state)) continue;
                CloseCheck(target);
                target.Removed = true;
                _slots[target.Slot] = null;
                _freeSlots.Push(target.Slot);
                _targets.Remove(state);
            }
        }
    }

    private long Offset(HealthCheckConfig check) => (long)(_random.NextDouble() * check.Interval.TotalMilliseconds);

    private void Schedule(ProbeTarget target, long dueMs)
    {
        target.DueMs = dueMs;
        _due.Enqueue(target, dueMs);
    }

    private void StartDue(long now)
    {
        while (_due.TryPeek(out var target, out var due) && due <= now)
        {
            _due.Dequeue();
            // Lazy deletion: a rescheduled or removed target left its old entry behind.
            if (target.Removed || target.DueMs != due || target.Phase != ProbePhase.Idle) continue;
            StartCheck(target, now);
        }
    }

    private void ExpireDeadlines(long now)
    {
        while (_deadlines.TryPeek(out var target, out var deadline) && deadline <= now)
        {
            _deadlines.Dequeue();
            if (target.Removed || target.Phase == ProbePhase.Idle || target.DeadlineMs != deadline) continue;
            var reason = target.Phase switch
            {
                ProbePhase.Connecting => "connect timeout",
                ProbePhase.Tls when target.TlsCheck is { HandshakeDone: false } => UpstreamTlsFailures.CheckError(UpstreamTlsFailure.Timeout),
                _ => "timeout",
            };
            Finish(target, passed: false, 0, reason);
        }
    }

    private void StartCheck(ProbeTarget target, long now)
    {
        target.Sequence++;
        target.StartedMs = now;
        target.StartedTimestamp = Stopwatch.GetTimestamp();
        target.Filled = 0;
        Interlocked.Increment(ref _checks);
        var fd = SocketSyscalls.CreateTcpSocket(target.EndPoint.AddressFamily);
        if (fd < 0)
        {
            Finish(target, passed: false, 0, ErrorText(-fd));
            return;
        }
        target.Fd = fd;
        target.Phase = ProbePhase.Connecting;
        target.DeadlineMs = now + (long)target.Config.Timeout.TotalMilliseconds;
        _deadlines.Enqueue(target, target.DeadlineMs);
        // No TCP_NODELAY: a check writes once (or never), so Nagle never holds anything back; one syscall less.
        SocketSyscalls.SetLingerZero(fd); // close() sends RST: no TIME_WAIT per check
        var address = stackalloc byte[SocketAddressCodec.MaxLength];
        var length = SocketAddressCodec.Write(target.EndPoint, new Span<byte>(address, SocketAddressCodec.MaxLength));
        var rc = SocketSyscalls.Connect(fd, address, length);
        if (rc < 0 && rc != -SocketSyscalls.EINPROGRESS)
        {
            Finish(target, passed: false, 0, ErrorText(-rc));
            return;
        }
        // A tcp check that connected at once (loopback) is done: no registration, no readiness event.
        if (rc == 0 && target.Config.Kind == HealthCheckKind.Tcp)
        {
            Finish(target, passed: true, 0, null);
            return;
        }
        // Registered after connect(): a socket registered before it reports HUP at once.
        var token = ((ulong)target.Sequence << 32) | (uint)target.Slot;
        var added = SocketSyscalls.EpollAdd(_epfd, fd,
            SocketSyscalls.EPOLLIN | SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLRDHUP | SocketSyscalls.EPOLLET, token);
        if (added < 0)
        {
            Finish(target, passed: false, 0, ErrorText(-added));
            return;
        }
        if (rc == 0) OnConnected(target);
    }

    private void OnReady(ProbeTarget target, uint mask)
    {
        if (target.Phase == ProbePhase.Tls) return; // an event from before the socket went to its TLS check
        if (target.Phase == ProbePhase.Connecting)
        {
            if ((mask & (SocketSyscalls.EPOLLOUT | SocketSyscalls.EPOLLERR | SocketSyscalls.EPOLLHUP)) == 0) return;
            // Writable with no error or hang-up means connected: SO_ERROR is only read when there is one to name.
            if ((mask & (SocketSyscalls.EPOLLERR | SocketSyscalls.EPOLLHUP)) == 0)
            {
                OnConnected(target);
                return;
            }
            var rc = SocketSyscalls.GetInt(target.Fd, SocketSyscalls.SOL_SOCKET, SocketSyscalls.SO_ERROR, out var error);
            if (rc < 0) error = -rc;
            if (error != 0)
            {
                Finish(target, passed: false, 0, ErrorText(error));
                return;
            }
            OnConnected(target);
            return;
        }
        ReadStatus(target);
    }

    private void OnConnected(ProbeTarget target)
    {
        if (target.Config.Kind == HealthCheckKind.Tcp)
        {
            Finish(target, passed: true, 0, null);
            return;
        }
        if (target.Tls is { } tls)
        {
            StartTls(target, tls);
            return;
        }
        var request = target.Request;
        long sent;
        fixed (byte* p = request) sent = SocketSyscalls.Send(target.Fd, p, request.Length);
        // The request is a few dozen bytes: a fresh socket's send buffer always takes it whole.
        if (sent != request.Length)
        {
            Finish(target, passed: false, 0, sent < 0 ? ErrorText((int)-sent) : "send failed");
            return;
        }
        target.Phase = ProbePhase.Reading;
        ReadStatus(target);
    }

    /// <summary>Hands the connected socket to a <see cref="TlsCheck"/>; its result comes back through <see cref="OnTlsDone"/>.</summary>
    private void StartTls(ProbeTarget target, UpstreamTls tls)
    {
        SocketSyscalls.EpollDelete(_epfd, target.Fd); // the TLS check's socket waits on the runtime's own engine from here
        var check = new TlsCheck(target, target.Fd);
        target.Fd = -1;
        target.TlsCheck = check;
        target.Phase = ProbePhase.Tls;
        _ = check.RunAsync(tls, target.Request, target.State.Address, _onTlsDone);
    }

    /// <summary>Any thread: a TLS check ended; the prober records it.</summary>
    private void OnTlsDone(TlsCheck check)
    {
        _tlsDone.Enqueue(check);
        Wake();
    }

    private void FinishTls(TlsCheck check)
    {
        var target = check.Target;
        // Cut at its deadline, or its backend left: that check was already recorded or is gone.
        if (target.Removed || target.Phase != ProbePhase.Tls || !ReferenceEquals(target.TlsCheck, check)) return;
        if (check.Error is { } error) Finish(target, passed: false, 0, error, check.Detail);
        else Finish(target, target.Config.Expect.Contains(check.Status), check.Status, null);
    }

    /// <summary>Reads up to the status code ("HTTP/1.1 200"); waits for the next edge on EAGAIN.</summary>
    private void ReadStatus(ProbeTarget target)
    {
        var buffer = target.Buffer;
        while (target.Filled < ProbeTarget.StatusLineBytes)
        {
            long n;
            fixed (byte* p = &buffer[target.Filled]) n = SocketSyscalls.Receive(target.Fd, p, ProbeTarget.StatusLineBytes - target.Filled);
            if (n == -SocketSyscalls.EAGAIN) return;
            if (n < 0)
            {
                Finish(target, passed: false, 0, ErrorText((int)-n));
                return;
            }
            if (n == 0)
            {
                Finish(target, passed: false, 0, "closed before the status line");
                return;
            }
            target.Filled += (int)n;
        }
        var status = ParseStatus(buffer);
        if (status < 0)
        {
            Finish(target, passed: false, 0, "invalid status line");
            return;
        }
        Finish(target, target.Config.Expect.Contains(status), status, null);
    }

    /// <summary>The status code of "HTTP/1.x DDD", or -1.</summary>
    internal static int ParseStatus(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("HTTP/1."u8) || line[8] != (byte)' ') return -1;
        var code = 0;
        for (var i = 9; i < 12; i++)
        {
            var d = line[i] - '0';
            if ((uint)d > 9) return -1;
            code = code * 10 + d;
        }
        return code is >= 100 and <= 599 ? code : -1;
    }

    /// <param name="detail">What TLS said, added to the log line of a state change; null for other checks.</param>
    private void Finish(ProbeTarget target, bool passed, int status, string? error, string? detail = null)
    {
        CloseCheck(target);
        var latency = Stopwatch.GetElapsedTime(target.StartedTimestamp);
        var transition = target.State.Health.RecordCheck(new CheckResult(passed, status, passed ? null : error, latency), target.Config);
        if (transition is { } t)
        {
            var line = $"health {target.Label} {Name(t.From)} -> {Name(t.To)}: {t.Reason}{(detail is null ? "" : $"; {detail}")}";
            if (t.To == HealthStatus.Unhealthy) Log.Warn(line);
            else Log.Info(line);
        }
        // Next check one interval after this one started (never before this one ended): checks never overlap.
        var now = NowMs;
        Schedule(target, Math.Max(target.StartedMs + (long)target.Config.Interval.TotalMilliseconds, now));
    }

    private static void CloseCheck(ProbeTarget target)
    {
        if (target.Fd >= 0)
        {
            SocketSyscalls.Close(target.Fd); // also leaves the epoll set
            target.Fd = -1;
        }
        if (target.TlsCheck is { } check)
        {
            check.Dispose();
            target.TlsCheck = null;
        }
        target.Phase = ProbePhase.Idle;
    }

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Unhealthy => "unhealthy",
        _ => "unknown",
    };

    /// <summary>Fixed texts per errno, so a failed check allocates nothing.</summary>
    private static string ErrorText(int errno) => errno switch
    {
        SocketSyscalls.ECONNREFUSED => "connect refused",
        SocketSyscalls.ETIMEDOUT => "connect timed out",
        SocketSyscalls.EHOSTUNREACH => "host unreachable",
        SocketSyscalls.ENETUNREACH => "network unreachable",
        SocketSyscalls.ECONNRESET => "connection reset",
        SocketSyscalls.EPIPE => "connection closed",
        SocketSyscalls.EMFILE or SocketSyscalls.ENFILE => "out of file descriptors",
        _ => "socket error",
    };

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        Wake();
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(2));
        SocketSyscalls.Close(_epfd);
        lock (_wakeLock)
        {
            _wakeClosed = true;
            SocketSyscalls.Close(_wakeFd);
        }
    }
}
