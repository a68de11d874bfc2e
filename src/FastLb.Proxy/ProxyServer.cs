using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy;

/// <summary>Owns the listeners: reconciles them with each config, accepts, dispatches, drains and stops.</summary>
/// <remarks>
/// Dispatch by protocol: tcp listeners relay to their service (<see cref="Tcp.TcpProxyConnection"/>); http
/// listeners go to the handler from <c>httpHandlerFactory</c>. A server without a factory serves tcp listeners
/// only and refuses to bind an http listener.
/// </remarks>
internal sealed class ProxyServer : IAsyncDisposable, IConnectionDirectory
{
    /// <summary>How often every connection's timeouts are checked; a timeout fires up to this late.</summary>
    public static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromMilliseconds(100);

    /// <summary>How long stragglers get to finish after they were aborted, before StopAsync returns anyway.</summary>
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    private readonly Func<ListenerConfig, IConnectionHandler>? _httpHandlerFactory;
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly Lock _stateLock = new();
    private readonly Timer _heartbeat;
    private Dictionary<string, ProxyListener> _active = new(StringComparer.Ordinal);
    private readonly List<ProxyListener> _draining = [];
    private ProxyListener[] _all = [];           // active + draining, for the heartbeat
    private BoundListener[] _listeners = [];
    private int _live;           // admitted client connections (see TryAdmit)
    private int _maxConnections = int.MaxValue;
    private long _refused;
    private int _heartbeatRunning;
    private Task? _stopTask;
    private List<ProxyListener>? _heldBack; // adopted or bound, not accepting until StartAccepting (an upgrade in progress)

    public ProxyServer(Router router)
        : this(router, httpHandlerFactory: null)
    {
    }

    /// <param name="router">Source of the routing table; each connection reads it once.</param>
    /// <param name="httpHandlerFactory">Makes the handler of each http listener when it binds; null = tcp listeners only.</param>
    /// <param name="heartbeatInterval">Period of the timeout checks (default <see cref="DefaultHeartbeat"/>).</param>
    /// <param name="loops">
    /// The event loops to serve on; the server owns them from here and disposes them when it stops. Null = a new
    /// set of <see cref="EventLoops.DefaultCount"/> unpinned loops.
    /// </param>
    public ProxyServer(Router router, Func<ListenerConfig, IConnectionHandler>? httpHandlerFactory, TimeSpan? heartbeatInterval = null,
        EventLoops? loops = null)
    {
        Router = router;
        _httpHandlerFactory = httpHandlerFactory;
        Loops = loops ?? new EventLoops(EventLoops.DefaultCount);
        Transport = new TransportOptions(Loops);
        var period = heartbeatInterval ?? DefaultHeartbeat;
        _heartbeat = new Timer(static s => ((ProxyServer)s!).OnHeartbeat(), this, period, period);
    }

    public Router Router { get; }

    /// <summary>The event loops every connection of this server runs on; stopped when the server stops.</summary>
    public EventLoops Loops { get; }

    /// <summary>Memory pool and pipe settings shared by every connection of this server.</summary>
    public TransportOptions Transport { get; }

    /// <summary>The accepting listener named <paramref name="name"/>, or null.</summary>
    internal ProxyListener? ActiveListener(string name)
    {
        lock (_stateLock) return _active.GetValueOrDefault(name);
    }

    /// <summary>Listeners that are accepting, with the address they actually bound.</summary>
    public IReadOnlyList<BoundListener> Listeners => Volatile.Read(ref _listeners);

    /// <summary>Per-listener connection and request counters, by listener name.</summary>
    public ListenerTrafficRegistry ListenerTraffic { get; } = new();

    /// <summary>The token_limits buckets of every listener, by name, kept across reloads.</summary>
    public FastLb.Core.Limits.TokenLimiterRegistry TokenLimiters { get; } = new();

    /// <summary>The access logs the listeners write (access_log), by path.</summary>
    public AccessLogSet AccessLogs { get; } = new();

    /// <summary>Client connections open on all listeners, draining ones included.</summary>
    public int LiveConnections => Volatile.Read(ref _live);

    /// <summary>Idle HTTP connections parked (and the heap trim once all of them are).</summary>
    internal IdleMemoryTrim IdleMemory { get; } = new();

    /// <summary>Client connections parked idle (each holds its socket and little else).</summary>
    public int ParkedConnections => IdleMemory.Parked;

    /// <summary>The max_connections a config without one gets (the host derives it from the descriptor limit); unbounded by default.</summary>
    public int AutoMaxConnections { get; set; } = int.MaxValue;

    /// <summary>Client connections open at once over all listeners (the config's max_connections, else <see cref="AutoMaxConnections"/>).</summary>
    public int MaxConnections => Volatile.Read(ref _maxConnections);

    /// <summary>Connections closed at once because a limit was reached or descriptors ran out.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>The spare descriptor accept loops use to accept-and-close when out of descriptors.</summary>
    internal ReserveDescriptor Reserve { get; } = new();

    /// <summary>The open client connections of every listener, draining ones included (for drain deadlines).</summary>
    public IEnumerable<IDrainable> Connections
    {
        get
        {
            foreach (var listener in Volatile.Read(ref _all))
            {
                foreach (var connection in listener.Connections) yield return connection;
            }
        }
    }

    /// <summary>
    /// Reconciles listeners with <paramref name="config"/> by name: binds new ones, keeps unchanged ones (same
    /// name, bind and protocol) without touching their connections, and stops accepting on removed or changed
    /// ones, whose open connections run on until they end or <c>config.Defaults.DrainTimeout</c> passes.
    /// Returns one message per listener that could not bind; the others are applied regardless.
    /// </summary>
    public Task<IReadOnlyList<string>> ApplyAsync(FastLbConfig config) => ApplyAsync(config, inherited: null);

    /// <summary>
    /// The first apply of a process that replaces another (an upgrade): a listener whose name and bind match one of
    /// <paramref name="inherited"/> takes that socket instead of binding (same address, same backlog); the others bind.
    /// Nothing accepts until <see cref="StartAccepting"/>. Sockets no listener took stay in the list (the caller closes them).
    /// </summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(FastLbConfig config, List<InheritedListener>? inherited)
    {
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopTask is not null) return ["server is stopping; listeners were not changed"];
            Transport.TcpRelay = config.Defaults.TcpRelay; // new connections only; running relays keep their mode
            Volatile.Write(ref _maxConnections, config.MaxConnections ?? AutoMaxConnections); // open connections stay
            var errors = new List<string>();
            var next = new Dictionary<string, ProxyListener>(StringComparer.Ordinal);

            // Step 1: retire listeners the file no longer names, and those whose protocol changed on the same
            // bind (they must free the port before step 2 can rebind it).
            foreach (var (name, listener) in _active)
            {
                var wanted = FindListener(config, name);
                if (wanted is null || (wanted.Bind == listener.Config.Bind && !listener.CanKeep(wanted)))
                {
                    await RetireAsync(listener, config.Defaults.DrainTimeout).ConfigureAwait(false);
                }
            }

            // Step 2: in file order, keep unchanged listeners and bind the others. A listener moving to another
            // address binds first and retires the old socket only once the new one works.
            foreach (var wanted in config.Listeners)
            {
                if (next.TryGetValue(wanted.Name, out var existing))
                {
                    if (!ReferenceEquals(existing.Config, wanted)) errors.Add($"listener '{wanted.Name}': defined twice");
                    continue;
                }
                var old = _active.GetValueOrDefault(wanted.Name);
                if (old is not null && old.CanKeep(wanted))
                {
                    old.Update(wanted);
                    next[wanted.Name] = old;
                    continue;
                }
                var handler = wanted.Protocol == ListenerProtocol.Http ? _httpHandlerFactory?.Invoke(wanted) : null;
                var socket = inherited is null ? null : TakeInherited(inherited, wanted);
                var listener = socket is not null
                    ? ProxyListener.Adopt(wanted, socket, this, handler, out var error)
                    : ProxyListener.TryBind(wanted, this, handler, out error);
                if (socket is not null)
                {
                    if (listener is null) socket.Dispose();
                    else Log.Info($"listener '{wanted.Name}' took over {listener.EndPoint} from the previous process");
                }
                else if (listener is not null)
                {
                    Log.Info($"bind listener '{wanted.Name}' {listener.EndPoint}"); // before Start logs "accepting": the log follows the events
                }
                if (listener is null)
                {
                    if (old is not null && wanted.Bind != old.Config.Bind)
                    {
                        error += $"; still serving on {old.EndPoint}";
                        next[wanted.Name] = old;
                    }
                    Log.Warn(error!);
                    errors.Add(error!);
                    continue;
                }
                if (old is not null && wanted.Bind != old.Config.Bind)
                {
                    await RetireAsync(old, config.Defaults.DrainTimeout).ConfigureAwait(false);
                }
                next[wanted.Name] = listener;
                if (inherited is null) listener.Start();
                else (_heldBack ??= []).Add(listener);
            }

            // Access logs: open new paths, point each listener at its log, then close the logs no listener names.
            var retiredLogs = AccessLogs.Apply(config.Listeners);
            foreach (var listener in next.Values) listener.AccessLog = AccessLogs.For(listener.Config);
            if (retiredLogs.Count > 0) _ = RetireLogsAsync(retiredLogs, config.Defaults.DrainTimeout + AbortGrace);

            lock (_stateLock)
            {
                _active = next;
                PublishLocked();
            }
            return errors;
        }
        finally
        {
            _applyGate.Release();
        }
    }

    /// <summary>Starts accepting on the listeners the upgrade apply held back (see <see cref="ApplyAsync(FastLbConfig, List{InheritedListener}?)"/>).</summary>
    public void StartAccepting()
    {
        var held = Interlocked.Exchange(ref _heldBack, null);
        if (held is null) return;
        foreach (var l in held) l.Start();
    }

    /// <summary>The active listeners with their listen socket and config, to hand over to a process replacing this one.</summary>
    public IReadOnlyList<(ListenerConfig Config, System.Runtime.InteropServices.SafeHandle Socket)> HandOverSockets()
    {
        lock (_stateLock)
        {
            var list = new List<(ListenerConfig, System.Runtime.InteropServices.SafeHandle)>(_active.Count);
            foreach (var l in _active.Values) list.Add((l.Config, l.ListenHandle));
            return list;
        }
    }

    /// <summary>
    /// After another process took over the listen sockets (an upgrade): stops accepting here without closing the
    /// sockets under the new process (it holds them too), lets HTTP connections close after their next response and
    /// tunnels run until they end, and aborts what is left after <paramref name="drainTimeout"/>. Like <see cref="StopAsync"/>.
    /// </summary>
    public Task HandOffAsync(TimeSpan drainTimeout)
    {
        lock (_stateLock)
        {
            return _stopTask ??= StopCoreAsync(drainTimeout, handOff: true);
        }
    }

    /// <summary>
    /// Stops accepting everywhere, lets connections finish for up to <paramref name="drainTimeout"/>, aborts the
    /// stragglers and closes the listeners. Idempotent: later calls return the first call's task.
    /// </summary>
    public Task StopAsync(TimeSpan drainTimeout)
    {
        lock (_stateLock)
        {
            return _stopTask ??= StopCoreAsync(drainTimeout, handOff: false);
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(TimeSpan.Zero));

    /// <summary>
    /// Counts a connection about to be accepted against max_connections, before the accept: false at the limit.
    /// Several listeners accept on several loops, so the check and the count are one atomic step.
    /// </summary>
    internal bool TryAdmit()
    {
        if (Interlocked.Increment(ref _live) <= Volatile.Read(ref _maxConnections)) return true;
        Interlocked.Decrement(ref _live);
        return false;
    }

    /// <summary>Balances <see cref="TryAdmit"/>: the connection ended, or none was accepted after all.</summary>
    internal void ReleaseAdmission() => Interlocked.Decrement(ref _live);

    internal void CountRefused() => Interlocked.Increment(ref _refused);

    private async Task StopCoreAsync(TimeSpan drainTimeout, bool handOff)
    {
        await Task.Yield(); // Leave the caller's lock before doing anything slow.
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ProxyListener[] all;
            lock (_stateLock)
            {
                all = _all;
                _active = new Dictionary<string, ProxyListener>(StringComparer.Ordinal);
                _draining.Clear();
                PublishLocked();
            }

            // Shutdown order: stop accepting, ask every connection to close, wait, abort stragglers.
            var empties = new Task[all.Length];
            for (var i = 0; i < all.Length; i++)
            {
                if (handOff) all[i].MarkShared();
                await all[i].StopAcceptingAsync().ConfigureAwait(false);
                if (handOff) all[i].RequestCloseAllAfterResponse();
                else all[i].RequestCloseAll();
                empties[i] = all[i].WhenEmpty;
            }
            var allEmpty = Task.WhenAll(empties);
            if (!await WaitAsync(allEmpty, drainTimeout).ConfigureAwait(false))
            {
                var aborted = 0;
                foreach (var l in all) aborted += l.AbortAll();
                Log.Info($"stop: drain timeout ({drainTimeout.TotalSeconds:0.###}s) passed; aborted {aborted} connection(s)");
                if (!await WaitAsync(allEmpty, AbortGrace).ConfigureAwait(false))
                {
                    Log.Warn($"stop: {LiveConnections} connection(s) did not end after abort");
                }
            }
        }
        finally
        {
            await _heartbeat.DisposeAsync().ConfigureAwait(false);
            AccessLogs.Dispose(); // after the last connection: its line is written out
            Transport.Dispose(); // Blocks still out (a stuck straggler) fall to the GC when returned.
            Reserve.Dispose();
            Loops.Dispose();     // Last: the connections it served were closed or aborted above.
            _applyGate.Release();
        }
    }

    /// <summary>Closes access logs no listener names any more once the connections that may still write them are gone.</summary>
    private async Task RetireLogsAsync(List<AccessLog> logs, TimeSpan delay)
    {
        await Task.Delay(delay).ConfigureAwait(false);
        foreach (var log in logs) AccessLogs.Retire(log);
    }

    /// <summary>Stops accepting on <paramref name="listener"/> and aborts what is left of it after the drain timeout.</summary>
    private async Task RetireAsync(ProxyListener listener, TimeSpan drainTimeout)
    {
        lock (_stateLock)
        {
            _draining.Add(listener);
        }
        await listener.StopAcceptingAsync().ConfigureAwait(false);
        listener.RequestCloseAll();
        _ = DrainAsync(listener, drainTimeout);
    }

    private async Task DrainAsync(ProxyListener listener, TimeSpan drainTimeout)
    {
        try
        {
            if (!await WaitAsync(listener.WhenEmpty, drainTimeout).ConfigureAwait(false))
            {
                var n = listener.AbortAll();
                Log.Info($"listener '{listener.Name}': drain timeout ({drainTimeout.TotalSeconds:0.###}s) passed; aborted {n} connection(s)");
                await WaitAsync(listener.WhenEmpty, AbortGrace).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.Error($"listener '{listener.Name}': drain failed: {e.Message}");
        }
        finally
        {
            lock (_stateLock)
            {
                if (_draining.Remove(listener)) PublishLocked();
            }
        }
    }

    private void PublishLocked()
    {
        var all = new ProxyListener[_active.Count + _draining.Count];
        var bound = new BoundListener[_active.Count];
        var i = 0;
        foreach (var l in _active.Values)
        {
            bound[i] = l.Bound;
            all[i++] = l;
        }
        foreach (var l in _draining) all[i++] = l;
        Volatile.Write(ref _all, all);
        Volatile.Write(ref _listeners, bound);
    }

    private void OnHeartbeat()
    {
        // Skip a tick rather than overlap when a sweep runs long.
        if (Interlocked.Exchange(ref _heartbeatRunning, 1) != 0) return;
        try
        {
            var now = Environment.TickCount64;
            foreach (var l in Volatile.Read(ref _all)) l.Heartbeat(now);
            IdleMemory.OnHeartbeat(now, LiveConnections);
        }
        catch (Exception e)
        {
            Log.Error($"heartbeat failed: {e.Message}");
        }
        finally
        {
            Volatile.Write(ref _heartbeatRunning, 0);
        }
    }

    /// <summary>The inherited socket for <paramref name="wanted"/>: same name and bind, else the same fixed bind under another name.</summary>
    private static System.Net.Sockets.Socket? TakeInherited(List<InheritedListener> inherited, ListenerConfig wanted)
    {
        var bind = wanted.Bind.ToString();
        var index = inherited.FindIndex(i => i.Name == wanted.Name && i.Bind == bind);
        if (index < 0 && wanted.Bind.Port != 0) index = inherited.FindIndex(i => i.Bind == bind);
        if (index < 0) return null;
        var socket = inherited[index].Socket;
        inherited.RemoveAt(index);
        return socket;
    }

    private static ListenerConfig? FindListener(FastLbConfig config, string name)
    {
        foreach (var l in config.Listeners)
        {
            if (l.Name == name) return l;
        }
        return null;
    }

    /// <summary>True when <paramref name="task"/> completed within <paramref name="timeout"/>.</summary>
    private static async Task<bool> WaitAsync(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted) return true;
        if (timeout <= TimeSpan.Zero) return false;
        try
        {
            await task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
