using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Proxy.Tcp;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy;

/// <summary>One bound listen socket: its accept loop and the client connections it accepted.</summary>
internal sealed class ProxyListener
{
    public const int Backlog = 1024;

    /// <summary>How often a listener at its limit in queue mode looks whether a connection ended.</summary>
    private const int LimitPollMs = 10;

    /// <summary>How long an accept loop out of descriptors waits before it tries again.</summary>
    private const int ExhaustedBackoffMs = 50;

    /// <summary>How long stopping waits for a ring listener's cancelled accepts to end before it closes the socket anyway.</summary>
    private static readonly TimeSpan RingStopTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _listenSocket;
    private EpollSocket[] _acceptors = []; // one per ring loop, or the one epoll loop that accepts (set by Start)
    private readonly ProxyServer _server;
    private readonly IConnectionHandler? _httpHandler;
    private readonly ConcurrentDictionary<IProxyConnection, byte> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _stateLock = new();
    private readonly TaskCompletionSource _empty = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ListenerTarget _target;
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _stopAccepting;
    private int _live;      // registered connections (under _stateLock)
    private int _admitted;  // admitted connections, from before accept to Unregister (atomic: every ring loop admits)
    private bool _stopped;
    private long _lastWarnMs = long.MinValue;
    private AccessLog? _accessLog;
    private readonly ExhaustionLog _limitLog;

    private ProxyListener(ListenerConfig config, Socket listenSocket, ProxyServer server, IConnectionHandler? httpHandler)
    {
        _listenSocket = listenSocket;
        _server = server;
        _httpHandler = httpHandler;
        _target = new ListenerTarget(config);
        Name = config.Name;
        EndPoint = (IPEndPoint)listenSocket.LocalEndPoint!;
        Bound = new BoundListener(Name, EndPoint, config.Protocol);
        Traffic = server.ListenerTraffic.GetOrAdd(Name);
        TokenLimiter = server.TokenLimiters.GetOrAdd(Name);
        _limitLog = new ExhaustionLog($"listener '{Name}': at a connection limit");
    }

    public string Name { get; }
    public IPEndPoint EndPoint { get; }
    public BoundListener Bound { get; }
    public ListenerTarget Target => Volatile.Read(ref _target);
    public ListenerConfig Config => Target.Config;
    public int Live => Volatile.Read(ref _live);

    /// <summary>Where this listener's access_log lines go, or null (off); set by the server on each apply.</summary>
    public AccessLog? AccessLog
    {
        get => Volatile.Read(ref _accessLog);
        set => Volatile.Write(ref _accessLog, value);
    }

    /// <summary>This listener's counters (kept by name across reloads).</summary>
    public ListenerTraffic Traffic { get; }

    /// <summary>This listener's token_limits buckets (kept by name across reloads; used only when it has token_limits).</summary>
    public FastLb.Core.Limits.TokenLimiter TokenLimiter { get; }

    /// <summary>Completes once the listener stopped accepting and its last connection ended.</summary>
    public Task WhenEmpty => _empty.Task;

    /// <summary>Binds and listens; returns null with an operator-readable message on failure.</summary>
    public static ProxyListener? TryBind(ListenerConfig config, ProxyServer server, IConnectionHandler? httpHandler, out string? error)
    {
        error = null;
        if (config.Protocol == ListenerProtocol.Http && httpHandler is null)
        {
            error = $"listener '{config.Name}': an http listener needs the HTTP proxy; this server relays tcp only";
            return null;
        }
        var endPoint = config.Bind.ToIPEndPoint();
        if (endPoint is null)
        {
            error = $"listener '{config.Name}': cannot bind {config.Bind}: '{config.Bind.Host}' is not an IP address";
            return null;
        }
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // [::] takes IPv4 clients too, as operators expect from 0.0.0.0.
            }
            EnableAddressReuse(socket);
            socket.Bind(endPoint);
            socket.Listen(Backlog);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            error = $"listener '{config.Name}': cannot bind {config.Bind}: {Describe(e.SocketErrorCode, e.Message)}";
            return null;
        }
        return new ProxyListener(config, socket, server, httpHandler);
    }

    /// <summary>
    /// Takes over <paramref name="socket"/>, a listening socket another process handed over (an upgrade); it keeps its
    /// address and its backlog. Returns null with a message when it is not a listening TCP socket.
    /// </summary>
    public static ProxyListener? Adopt(ListenerConfig config, Socket socket, ProxyServer server, IConnectionHandler? httpHandler, out string? error)
    {
        error = null;
        try
        {
            Span<byte> accepting = stackalloc byte[4];
            socket.GetRawSocketOption(1 /* SOL_SOCKET */, 30 /* SO_ACCEPTCONN */, accepting);
            if (socket.SocketType != SocketType.Stream || socket.LocalEndPoint is not IPEndPoint || BitConverter.ToInt32(accepting) == 0)
            {
                error = $"listener '{config.Name}': the socket handed over for {config.Bind} is not a listening TCP socket";
                return null;
            }
        }
        catch (SocketException e)
        {
            error = $"listener '{config.Name}': the socket handed over for {config.Bind} cannot be used: {e.Message}";
            return null;
        }
        return new ProxyListener(config, socket, server, httpHandler);
    }

    /// <summary>
    /// The sockets the accept loops take connections from, one per loop that accepts (empty before
    /// <see cref="Start"/>): every loop on io_uring, one on epoll. All wrap the one listening socket.
    /// </summary>
    internal IReadOnlyList<EpollSocket> Acceptors => _acceptors;

    /// <summary>The listening socket's descriptor, to hand over to the process replacing this one.</summary>
    public System.Runtime.InteropServices.SafeHandle ListenHandle => _listenSocket.SafeHandle;

    /// <summary>True when <paramref name="next"/> can keep this socket: same name, bind and protocol.</summary>
    public bool CanKeep(ListenerConfig next) =>
        next.Name == Name && next.Bind == Config.Bind && next.Protocol == Config.Protocol;

    /// <summary>Takes a reloaded config for the same socket (a TCP listener may now name another service).</summary>
    public void Update(ListenerConfig next) => Volatile.Write(ref _target, new ListenerTarget(next));

    public void Start()
    {
        var target = Target;
        if (target.Service is null && target.SniRoutes is null && target.Config.Protocol == ListenerProtocol.Tcp)
        {
            Log.Warn($"listener '{Name}': no service to relay to; connections will be reset");
        }
        _acceptors = CreateAcceptors();
        Log.Info($"listener '{Name}' accepting on {EndPoint} ({(target.Config.Protocol == ListenerProtocol.Tcp ? "tcp" : "http")})");
        var acceptLoops = new Task[_acceptors.Length];
        for (var i = 0; i < _acceptors.Length; i++)
        {
            var acceptor = _acceptors[i];
            acceptLoops[i] = acceptor.AcceptsThroughRing ? RingAcceptLoopAsync(acceptor) : AcceptLoopAsync(acceptor);
        }
        _acceptLoop = acceptLoops.Length == 1 ? acceptLoops[0] : Task.WhenAll(acceptLoops);
    }

    /// <summary>
    /// On io_uring every loop accepts on the socket and serves what it accepted: the kernel wakes one armed accept per
    /// connection (accepts poll exclusively), so a loop that sleeps takes the next one and a busy one takes what waits
    /// when it submits, with no hand-off between loops but to keep them even (<see cref="EvenLoop"/>). One accepting
    /// loop that posted every other connection to the other loop cost a wake-up per connection there: 50.8 against 41.8
    /// µs of CPU per new connection at 2 workers (perf-results/2026-12-03-accept-every-loop.md). On epoll one loop
    /// accepts and spreads connections round-robin: epoll sets sharing a listening socket would all wake for each
    /// connection, and with EPOLLEXCLUSIVE the first set in the socket's wait queue takes every connection while its
    /// loop waits (tried: the other loop of two accepted none of 40 clients arriving one by one), unlike ring accepts,
    /// which rejoin the queue at its end each time they are armed again.
    /// </summary>
    private EpollSocket[] CreateAcceptors()
    {
        var loops = _server.Loops;
        if (!loops.Io.UsesUring) return [EpollSocket.ForListener(_listenSocket, loops.Next())];
        var acceptors = new EpollSocket[loops.Count];
        for (var i = 0; i < acceptors.Length; i++) acceptors[i] = EpollSocket.ForRingListener(_listenSocket, loops[i]);
        return acceptors;
    }

    /// <summary>
    /// Stops accepting and closes this process's descriptor of the listen socket; accepted connections keep running.
    /// Idempotent. The accept loop ends before the listener counts as stopped, so a connection accepted meanwhile is
    /// served, not reset: when another process holds the same socket (an upgrade), nothing queued for it is lost.
    /// </summary>
    public Task StopAcceptingAsync()
    {
        lock (_stateLock)
        {
            return _stopAccepting ??= StopAcceptingCoreAsync();
        }
    }

    /// <summary>
    /// Says another process holds this listen socket too (an upgrade handed it over). Closing it here then must not
    /// shut it down: .NET's socket close leaves alone a descriptor that is not close-on-exec, its sign of a socket
    /// shared with another process, where it might otherwise disconnect the socket to unblock a pending call.
    /// </summary>
    public void MarkShared()
    {
        var handle = _listenSocket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            FdPassing.Inherit((int)handle.DangerousGetHandle());
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // Already closed here (a listener a reload retired): nothing to protect.
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private async Task StopAcceptingCoreAsync()
    {
        await Task.Yield(); // leave the caller's lock
        // One bound for the whole stop on ring loops (both waits below share it): one whose loop stopped under it
        // never resumes, and the stop must not take twice the bound because it waits twice.
        var throughRing = _acceptors.Length > 0 && _acceptors[0].AcceptsThroughRing;
        var ringDeadline = throughRing ? Task.Delay(RingStopTimeout) : null;
        if (throughRing)
        {
            // Step 1: no more arms, and the armed accepts are cancelled; each accept loop serves what the kernel
            // accepted before the cancels ran (the socket may live on in another process: nothing it took is lost)
            // and ends when none is left in the kernel. Step 2 closes the socket, which no accept holds open any more.
            foreach (var acceptor in _acceptors) acceptor.StopRingAccepts();
            await Task.WhenAny(_acceptLoop, ringDeadline!).ConfigureAwait(false);
        }
        foreach (var acceptor in _acceptors) acceptor.CloseListener(); // the accept loops wake and end
        _listenSocket.Dispose();
        try
        {
            // Bounded for the ring's loop by what is left of the one deadline (nothing the accept loop holds is lost).
            var ended = ringDeadline is not null
                ? await Task.WhenAny(_acceptLoop, ringDeadline).ConfigureAwait(false)
                : _acceptLoop;
            await ended.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.Warn($"listener '{Name}': accept loop failed: {e.Message}");
        }
        lock (_stateLock)
        {
            _stopped = true;
            if (_live == 0) _empty.TrySetResult();
        }
        Log.Info($"listener '{Name}' stopped accepting on {EndPoint}; {Live} connection(s) still open");
    }

    /// <summary>Counts a new connection; false once the listener stopped (the caller resets the socket).</summary>
    public bool Register(IProxyConnection connection)
    {
        lock (_stateLock)
        {
            if (_stopped) return false;
            _live++;
        }
        _connections.TryAdd(connection, 0); // the accept loop admitted it already (Admit)
        Traffic.Opened();
        return true;
    }

    /// <summary>Balances <see cref="Register"/>; connections call it exactly once, when they end.</summary>
    public void Unregister(IProxyConnection connection)
    {
        _connections.TryRemove(connection, out _);
        ReleaseAdmission();
        Traffic.Closed();
        lock (_stateLock)
        {
            _live--;
            if (_stopped && _live == 0) _empty.TrySetResult();
        }
    }

    /// <summary>An idle HTTP connection parks in a smaller object (ParkedHttpConnection), which takes its place.</summary>
    public void Park(IProxyConnection active, IProxyConnection parked)
    {
        Swap(active, parked);
        _server.IdleMemory.ConnectionParked();
    }

    /// <summary>A parked HTTP connection resumes in a full one, which takes its place.</summary>
    public void Resume(IProxyConnection parked, IProxyConnection active)
    {
        Swap(parked, active);
        _server.IdleMemory.ConnectionResumed();
    }

    /// <summary>
    /// Puts <paramref name="successor"/> in the place of <paramref name="connection"/>, which stays counted as one open
    /// connection. The successor is added before the other is removed, so a walk over the connections meanwhile (close,
    /// abort, heartbeat) finds at least one of them; each forwards what it is asked once the other took over.
    /// </summary>
    private void Swap(IProxyConnection connection, IProxyConnection successor)
    {
        _connections.TryAdd(successor, 0);
        _connections.TryRemove(connection, out _);
    }

    /// <summary>The open connections, as of now; one opened or ended meanwhile may or may not be seen.</summary>
    public IEnumerable<IProxyConnection> Connections
    {
        get
        {
            foreach (var (c, _) in _connections) yield return c;
        }
    }

    public void RequestCloseAll()
    {
        foreach (var (c, _) in _connections) c.RequestClose();
    }

    /// <summary>Every connection closes after its next response (<see cref="IProxyConnection.RequestCloseAfterResponse"/>).</summary>
    public void RequestCloseAllAfterResponse()
    {
        foreach (var (c, _) in _connections) c.RequestCloseAfterResponse();
    }

    /// <summary>Aborts every open connection (RST); returns how many.</summary>
    public int AbortAll()
    {
        var n = 0;
        foreach (var (c, _) in _connections)
        {
            c.Abort();
            n++;
        }
        return n;
    }

    public void Heartbeat(long nowMs)
    {
        // The dictionary's own enumerator, not .Keys (which copies every key into a new list on each call). The
        // enumerator is still an object: skip it when there is nothing to walk, so an idle listener allocates nothing.
        if (_connections.IsEmpty) return;
        foreach (var (c, _) in _connections) c.OnHeartbeat(nowMs);
    }

    /// <summary>
    /// Accepts on the listener's event loop until the backlog is empty, then parks on readiness. Each connection goes
    /// to the next loop round-robin and starts inline: up to its first wait it only registers and, for TCP, picks a
    /// backend and starts a non-blocking connect, so the accept loop is not held up.
    /// </summary>
    /// <remarks>
    /// Every connection is admitted before it is accepted: under this listener's max_connections and the server's.
    /// At a limit, queue mode leaves new connections in the kernel backlog and looks again every
    /// <see cref="LimitPollMs"/>; close mode accepts and closes them through the reserve descriptor. Out of
    /// descriptors (the data plane's budget, EMFILE, ENFILE, ENOBUFS), the loop backs off for
    /// <see cref="ExhaustedBackoffMs"/> and tries again; close mode first drops one waiting connection. Every back-off
    /// resumes on this loop, never spins, and is logged at most once per interval with its count.
    /// </remarks>
    private async Task AcceptLoopAsync(EpollSocket acceptor)
    {
        var loop = acceptor.Loop;
        var atLimit = false; // queue mode is holding connections in the backlog
        while (!acceptor.IsClosed)
        {
            var config = Config;
            if (!Admit(config))
            {
                if (config.OnLimit == OnLimit.Queue)
                {
                    RecordQueueing(ref atLimit);
                    await loop.DelayAsync(LimitPollMs).ConfigureAwait(false);
                    continue;
                }
                if (DropOne(acceptor))
                {
                    _limitLog.Record($"{Live} open here, {_server.LiveConnections} of {_server.MaxConnections} in all; new connections closed");
                    continue;
                }
                if (!await acceptor.WaitReadableAsync().ConfigureAwait(false)) break;
                continue;
            }
            atLimit = false;
            EpollSocket? client;
            try
            {
                // An HTTP connection for another loop is started there by Post (below), unregistered until it waits;
                // a TCP relay starts here (its backend is picked on this thread) and so is registered on its loop now.
                client = acceptor.Accept(registerOnOtherLoop: !ServesHttp);
            }
            catch (ObjectDisposedException)
            {
                ReleaseAdmission();
                break; // StopAcceptingAsync closed the socket.
            }
            catch (DescriptorsExhaustedException e)
            {
                ReleaseAdmission();
                if (acceptor.IsClosed) break;
                Exhaustion.Accept.Record($"listener '{Name}': {e.SocketErrorCode}, {DescriptorBudget.Process.Held} descriptor(s) held by connections");
                if (config.OnLimit == OnLimit.Close) DropOne(acceptor);
                await loop.DelayAsync(ExhaustedBackoffMs).ConfigureAwait(false);
                continue;
            }
            catch (Exception e)
            {
                ReleaseAdmission();
                if (acceptor.IsClosed) break;
                // Transient (a client gave up in the backlog): keep accepting, but back off so a repeating error does not spin.
                WarnRateLimited($"listener '{Name}': accept failed: {e.Message}");
                await loop.DelayAsync(ExhaustedBackoffMs).ConfigureAwait(false);
                continue;
            }
            if (client is null)
            {
                ReleaseAdmission();
                if (!await acceptor.WaitReadableAsync().ConfigureAwait(false)) break;
                continue;
            }
            Dispatch(client);
        }
    }

    /// <summary>
    /// The io_uring form of <see cref="AcceptLoopAsync"/>: the ring keeps up to <see cref="RingAcceptor.Slots"/>
    /// single-shot accepts armed (EpollLoop.RingAccept.cs says why not multishot), armed again with the loop's next
    /// submission, so a new connection costs no syscall of its own. Every ring loop runs one for the listener, on its
    /// own thread only, and serves the connections it accepted itself (see <see cref="CreateAcceptors"/>).
    /// </summary>
    /// <remarks>
    /// Limits hold as on epoll, with one difference the kernel imposes: an armed accept takes a connection before it is
    /// admitted. So no more accepts are armed than there is room for (under max_connections, the server's limit and the
    /// descriptor budget), and in queue mode none at all at a limit: the armed ones are cancelled and new connections
    /// wait in the kernel backlog; the few accepted just before (another loop or listener took the room meanwhile) wait
    /// here, unread, until there is room. In close mode at a limit the accepts stay armed and each connection they take
    /// is closed (refused), as accept-and-close does on epoll. A completion out of descriptors (EMFILE, ENFILE,
    /// ENOBUFS, ENOMEM) backs off <see cref="ExhaustedBackoffMs"/>, with nothing armed until then; so does a connection
    /// the descriptor budget has no room for, which waits here meanwhile (its descriptor is counted in the budget when
    /// it is taken).
    /// </remarks>
    private async Task RingAcceptLoopAsync(EpollSocket acceptor)
    {
        var loop = acceptor.Loop;
        var budget = DescriptorBudget.Process;
        var atLimit = false; // queue mode is holding connections in the backlog
        while (!acceptor.IsClosed)
        {
            if (!loop.IsCurrent)
            {
                // Its state is the loop thread's own: the first pass, or a back-off that resumed elsewhere.
                if (loop.IsStopping) break;
                await new LoopResume(loop);
                continue;
            }
            var config = Config;
            acceptor.ConsumeReadReadiness(); // a completion from now on wakes the wait below
            if (!acceptor.HasRingAccepted)
            {
                if (acceptor.RingAcceptsStopped)
                {
                    if (acceptor.RingAcceptsArmed == 0) break; // everything the kernel accepted was served
                }
                else
                {
                    var room = config.OnLimit == OnLimit.Close ? RingAcceptor.Slots : ConnectionRoom(config);
                    if (budget.Capacity - budget.Held <= 0)
                    {
                        acceptor.CancelRingAccepts();
                        Exhaustion.Accept.Record($"listener '{Name}': descriptor budget spent, {budget.Held} descriptor(s) held by connections");
                        if (config.OnLimit == OnLimit.Close) DropOne(acceptor);
                        await loop.DelayAsync(ExhaustedBackoffMs).ConfigureAwait(false);
                        continue;
                    }
                    if (room <= 0)
                    {
                        acceptor.CancelRingAccepts(); // nothing stays armed: new connections wait in the backlog
                        RecordQueueing(ref atLimit);
                        await loop.DelayAsync(LimitPollMs).ConfigureAwait(false);
                        continue;
                    }
                    acceptor.ArmRingAccepts(Math.Min(room, budget.Capacity - budget.Held));
                }
                if (!await acceptor.WaitReadableAsync().ConfigureAwait(false)) break;
                continue;
            }
            if (!Admit(config))
            {
                if (config.OnLimit == OnLimit.Queue && !acceptor.RingAcceptsStopped)
                {
                    acceptor.CancelRingAccepts();
                    RecordQueueing(ref atLimit);
                    await loop.DelayAsync(LimitPollMs).ConfigureAwait(false);
                    continue;
                }
                if (acceptor.DropRingAccepted())
                {
                    CountRefused();
                    _limitLog.Record($"{Live} open here, {_server.LiveConnections} of {_server.MaxConnections} in all; new connections closed");
                }
                continue;
            }
            atLimit = false;
            if (config.OnLimit == OnLimit.Queue && _acceptors.Length > 1 && ConnectionRoom(config) <= 0) CancelOtherLoopsAccepts(acceptor);
            EpollSocket? client;
            int errno;
            try
            {
                // Served where it was accepted, unless this loop holds more than its share (see EvenLoop). An HTTP
                // connection handed to another loop is started there by Post; a TCP relay starts here, registered there.
                var serving = _acceptors.Length > 1 ? EvenLoop(loop) : loop;
                client = acceptor.TakeRingAccepted(out errno, serving, registerOnOtherLoop: !ServesHttp);
            }
            catch (Exception e)
            {
                ReleaseAdmission();
                WarnRateLimited($"listener '{Name}': could not start a connection: {e.Message}");
                continue;
            }
            if (client is null)
            {
                ReleaseAdmission();
                if (errno == 0) continue;
                if (DescriptorsExhaustedException.IsExhaustion(errno))
                {
                    Exhaustion.Accept.Record($"listener '{Name}': {SocketSyscalls.ToSocketError(errno)}, {budget.Held} descriptor(s) held by connections");
                    acceptor.CancelRingAccepts(); // none completes meanwhile: no spinning through the back-off
                    if (config.OnLimit == OnLimit.Close)
                    {
                        if (acceptor.DropRingAccepted()) CountRefused();
                        else DropOne(acceptor);
                    }
                }
                else
                {
                    // Transient (a client gave up in the backlog): keep accepting, but back off so a repeating error does not spin.
                    WarnRateLimited($"listener '{Name}': accept failed: {SocketSyscalls.ToSocketError(errno)}");
                }
                await loop.DelayAsync(ExhaustedBackoffMs).ConfigureAwait(false);
                continue;
            }
            Dispatch(client);
        }
    }

    /// <summary>
    /// The loop to serve a connection <paramref name="accepting"/> took: itself, unless it holds more client connections
    /// than the least-loaded loop by more than a slack (4, plus a sixteenth of all), then that one. The kernel spreads
    /// accepts only over the loops that wait at that moment: a burst of connections (a client pool opening 64 at once)
    /// lands mostly on the loop that is awake and, kept alive, would load it for their whole life (measured 3:1).
    /// Connections that come and go keep the counts within the slack, so they stay where they were accepted. Envoy's
    /// exact connection balancer evens its workers the same way.
    /// </summary>
    private EpollLoop EvenLoop(EpollLoop accepting)
    {
        var mine = accepting.ClientConnections;
        var least = accepting;
        var leastCount = mine;
        var total = 0;
        foreach (var acceptor in _acceptors)
        {
            var count = acceptor.Loop.ClientConnections;
            total += count;
            if (count < leastCount)
            {
                least = acceptor.Loop;
                leastCount = count;
            }
        }
        return mine - leastCount > 4 + (total / 16) ? least : accepting;
    }

    /// <summary>
    /// This loop took the last place in queue mode: the other loops' armed accepts are cancelled too, so the next
    /// connections wait in the kernel backlog, not accepted and unread here; each of those loops then finds no room
    /// and arms again once there is.
    /// </summary>
    private void CancelOtherLoopsAccepts(EpollSocket taker)
    {
        foreach (var acceptor in _acceptors)
        {
            if (!ReferenceEquals(acceptor, taker)) acceptor.RequestRingAcceptsCancelled();
        }
    }

    /// <summary>How many more connections fit under this listener's max_connections and the server's.</summary>
    private int ConnectionRoom(ListenerConfig config)
    {
        var room = _server.MaxConnections - _server.LiveConnections;
        if (config.MaxConnections is { } max) room = Math.Min(room, max - Volatile.Read(ref _admitted));
        return room;
    }

    /// <summary>
    /// An accept loop found a limit reached in queue mode: logged (rate-limited) once per stretch at the limit, which
    /// <paramref name="atLimit"/>, the accept loop's own flag, marks until it admits a connection again.
    /// </summary>
    private void RecordQueueing(ref bool atLimit)
    {
        if (atLimit) return;
        atLimit = true;
        _limitLog.Record($"{Live} open here, {_server.LiveConnections} of {_server.MaxConnections} in all; new connections wait in the backlog");
    }

    /// <summary>Counts one more connection against this listener's max_connections and the server's; false at either limit.</summary>
    private bool Admit(ListenerConfig config)
    {
        // Taken, then checked (as the server's count is): several loops may admit at once, and a check-then-take would
        // let each of them take the last place.
        var admitted = Interlocked.Increment(ref _admitted);
        if (admitted > (config.MaxConnections ?? int.MaxValue) || !_server.TryAdmit())
        {
            Interlocked.Decrement(ref _admitted);
            return false;
        }
        return true;
    }

    /// <summary>Balances <see cref="Admit"/>: the connection ended, or none was accepted or started after all.</summary>
    private void ReleaseAdmission()
    {
        Interlocked.Decrement(ref _admitted);
        _server.ReleaseAdmission();
    }

    /// <summary>Accepts one waiting connection and closes it at once (on_limit: close, or out of descriptors); false when none waited.</summary>
    private bool DropOne(EpollSocket acceptor)
    {
        bool dropped;
        try
        {
            dropped = acceptor.AcceptAndClose(_server.Reserve);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        if (dropped) CountRefused();
        return dropped;
    }

    private void CountRefused()
    {
        Traffic.Refuse();
        _server.CountRefused();
    }

    private bool ServesHttp => _httpHandler is not null && Config.Protocol == ListenerProtocol.Http;

    /// <summary>Starts an admitted connection; one that cannot start is reset, with a rate-limited warning.</summary>
    private void Dispatch(EpollSocket client)
    {
        try
        {
            StartConnection(client);
        }
        catch (Exception e)
        {
            WarnRateLimited($"listener '{Name}': could not start a connection: {e.Message}");
            client.Abort();
        }
    }

    private void StartConnection(EpollSocket client)
    {
        var target = Target;
        if (ServesHttp)
        {
            var handled = _httpHandler!.Create(client, this, target.Config);
            if (!Register(handled))
            {
                ReleaseAdmission();
                client.Abort();
                return;
            }
            // On its own loop's thread from the first byte: handing it over costs an eventfd write only when that
            // loop sleeps, where registering it there (so that its first edge starts it) cost an epoll_ctl and a
            // wake-up for every connection (perf-results/2026-11-26-loop-balance.md).
            if (client.Loop.IsCurrent) handled.Execute();
            else client.Loop.Post(handled);
            return;
        }
        var relay = new TcpProxyConnection(client, this, target, _server.Router, _server.Transport);
        if (!Register(relay))
        {
            ReleaseAdmission();
            client.Abort();
            return;
        }
        relay.Execute();
    }

    /// <summary>Logs at most one warning per listener every 10 s, so a dead service cannot flood the log.</summary>
    public void WarnRateLimited(string message)
    {
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastWarnMs);
        if (now - last < 10_000) return;
        if (Interlocked.CompareExchange(ref _lastWarnMs, now, last) != last) return;
        Log.Warn(message);
    }

    private static void EnableAddressReuse(Socket socket)
    {
        // Plain SO_REUSEADDR: a restarted proxy rebinds while old connections sit in TIME_WAIT, yet a port another
        // live socket listens on still fails. SocketOptionName.ReuseAddress is avoided: on Unix .NET sets SO_REUSEPORT
        // with it, which would let two processes share the port silently (https://github.com/dotnet/corefx/issues/24562).
        // Windows is left alone: there SO_REUSEADDR would let another socket steal the port.
        try
        {
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            }
            else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            {
                socket.SetRawSocketOption(0xffff /* SOL_SOCKET */, 0x4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            }
        }
        catch (SocketException)
        {
            // Best effort: binding still works without it, only restarts may wait out TIME_WAIT.
        }
    }

    private static string Describe(SocketError error, string fallback) => error switch
    {
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AccessDenied => "permission denied",
        SocketError.AddressNotAvailable => "address not available on this host",
        SocketError.AddressFamilyNotSupported => "address family not supported",
        _ => fallback,
    };
}
