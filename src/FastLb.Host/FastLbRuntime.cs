using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Host.Admin;
using FastLb.Host.Control;
using FastLb.Host.Systemd;
using FastLb.Host.Upgrade;
using FastLb.Proxy.Transport;
using FastLb.Proxy;
using FastLb.Proxy.Health;
using FastLb.Proxy.Http;

namespace FastLb.Host;

/// <summary>
/// One running load balancer: the traffic controller, the listeners, the control socket, the drain ticker
/// and the signal handlers. Reloads and commands all go through here.
/// </summary>
internal sealed class FastLbRuntime : IAsyncDisposable
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    private readonly Func<FastLbConfig> _reloadSource;
    private readonly SystemdNotifier _systemd;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly TaskCompletionSource<int> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<PosixSignalRegistration> _signals = [];
    private ControlServer? _control;
    private ControlServer? _status; // the read-only status socket, when admin.status_socket is set
    private AdminHttpServer? _admin;
    private Task? _ticker;
    private int _stopping;
    private int _upgrading;
    private readonly List<UpgradeStateSection> _stateSections = [];

    /// <param name="reloadSource">Reads the config again for a reload; throws <see cref="ConfigException"/> on a bad file.</param>
    /// <param name="workers">The event loops to run (fixed for the process); null = <see cref="WorkerModel.Default"/>.</param>
    /// <param name="systemd">Where READY/RELOADING/STOPPING go; null = NOTIFY_SOCKET from the environment.</param>
    public FastLbRuntime(Func<FastLbConfig> reloadSource, WorkerModel? workers = null, SystemdNotifier? systemd = null)
    {
        _reloadSource = reloadSource;
        _systemd = systemd ?? SystemdNotifier.FromEnvironment();
        Workers = workers ?? WorkerModel.Default;
        Controller = new TrafficController(Router);
        // http listeners share one L7 proxy (and its upstream pool); the factory runs at bind time, after Http is set.
        // The server owns the loops and stops them when it stops.
        Proxy = new ProxyServer(Router, _ => Http!, loops: Workers.CreateLoops());
        Controller.Connections = Proxy;
        Http = new HttpProxy(Router, Proxy.Transport);
        Prober = new HealthProber(Router);
        Instruments = new FastLbInstruments(this);
        RegisterStateSection(new UpgradeStateSection("traffic", Controller.ExportState, (state, from) =>
        {
            var result = Controller.ImportState(state, from);
            Log.Info($"upgrade: generation {result.Generation}: {result.Summary}");
        }));
    }

    /// <summary>This process in the chain of upgrades (pid, start, version, predecessor).</summary>
    public ProcessGeneration Generation { get; private set; } = ProcessGeneration.First();

    /// <summary>True from the start of an upgrade until it failed, or for good once it succeeded: runtime changes wait.</summary>
    public bool UpgradeInProgress => Volatile.Read(ref _upgrading) != 0;

    /// <summary>Adds a part of the runtime state that an upgrade hands to the next process (see <see cref="UpgradeStateSection"/>).</summary>
    public void RegisterStateSection(UpgradeStateSection section) => _stateSections.Add(section);

    /// <summary>Writes the state document an upgrade hands over: {"format": 1, "sections": {name: {...}}}.</summary>
    public void WriteUpgradeState(System.Text.Json.Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("format", 1);
        w.WriteStartObject("sections");
        foreach (var section in _stateSections)
        {
            w.WritePropertyName(section.Name);
            section.Write(w);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void ReadUpgradeState(System.Text.Json.JsonElement state, string from)
    {
        if (!state.TryGetProperty("sections", out var sections)) return;
        foreach (var part in sections.EnumerateObject())
        {
            var section = _stateSections.Find(s => s.Name == part.Name);
            if (section is null)
            {
                Log.Warn($"upgrade: state section '{part.Name}' from {from} is unknown to this version; skipped");
                continue;
            }
            try
            {
                section.Read(part.Value, from);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or System.Text.Json.JsonException)
            {
                Log.Warn($"upgrade: state section '{part.Name}' from {from} could not be read ({e.Message}); it starts from the file");
            }
        }
    }

    public Router Router { get; } = new();
    public WorkerModel Workers { get; }
    public TrafficController Controller { get; }
    public ProxyServer Proxy { get; }
    public HttpProxy Http { get; }

    /// <summary>Active health checks of every pool's backends, on their own thread.</summary>
    public HealthProber Prober { get; }
    public ControlServer? Control => _control;

    /// <summary>The System.Diagnostics.Metrics view of the counters (meter "FastLb").</summary>
    public FastLbInstruments Instruments { get; }

    /// <summary>The read-only admin HTTP endpoint, when admin.listen is set.</summary>
    public AdminHttpServer? Admin => _admin;

    /// <summary>Loads the first config, binds listeners and the control socket. False (with the reason logged) when it cannot start.</summary>
    /// <param name="takeover">Set when this process replaces a running one (an upgrade): its sockets and state.</param>
    public async Task<bool> StartAsync(FastLbConfig config, bool handleSignals = true, UpgradeTakeover? takeover = null)
    {
        Log.Format = config.LogFormat;
        if (takeover is not null) Generation = ProcessGeneration.After(takeover.Previous);
        Log.Info($"start fastlb pid={Environment.ProcessId} config={config.SourcePath} workers={Workers.Workers}{(Workers.Pinned ? " pinned" : "")} io={Proxy.Loops.Io.Name} ({Proxy.Loops.Io.Reason})"
            + (takeover is null ? "" : $" version={Generation.Version} upgrading from pid {takeover.Previous.Pid} (version {takeover.Previous.Version})"));
        foreach (var warning in config.Warnings) Log.Warn(warning.ToString());
        ApplyDescriptorPlan(config);
        Controller.Load(config);
        if (takeover is not null) ReadUpgradeState(takeover.State, $"pid {takeover.Previous.Pid}");
        var errors = await Proxy.ApplyAsync(config, takeover?.Listeners).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            foreach (var e in errors) Log.Error(e);
            takeover?.Fail(string.Join("; ", errors));
            await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            return false;
        }
        Prober.Start(); // each listener logged "bind listener" when it bound, before it logged "accepting"
        try
        {
            var handler = new ControlCommandHandler(this);
            _control = new ControlServer(config.Admin.ControlSocket, handler);
            if (config.Admin.StatusSocket is { } statusPath)
            {
                int? group = null;
                if (config.Admin.StatusGroup is { } groupName)
                {
                    group = UnixSocketFile.ResolveGroup(groupName) ?? throw new IOException($"status_group '{groupName}' is not a group on this host");
                }
                _status = ControlServer.ForStatus(statusPath, handler, group);
            }
            if (takeover is null)
            {
                _control.Start();
                Log.Info($"bind control socket {config.Admin.ControlSocket}");
                if (_status is not null)
                {
                    _status.Start();
                    Log.Info($"bind status socket {_status.Path} (status, stats, history, events; read-only)");
                }
            }
            else
            {
                _control.StartBeside(); // moved into place once the old process commits the hand-off
                _status?.StartBeside();
            }
            if (config.Admin.Listen?.ToIPEndPoint() is { } adminBind)
            {
                _admin = new AdminHttpServer(adminBind, this, handler, takeover?.TakeAdmin(config.Admin.Listen.ToString()));
                try
                {
                    _admin.Start();
                }
                catch (SocketException e)
                {
                    Log.Error($"cannot bind admin http {adminBind}: {e.Message}");
                    takeover?.Fail($"cannot bind admin http {adminBind}: {e.Message}");
                    _admin.Dispose();
                    _control.Dispose();
                    _status?.Dispose();
                    await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
                    return false;
                }
                Log.Info($"bind admin http {_admin.EndPoint} (/, /status, /metrics, /events, /history; read-only)");
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            _control?.Dispose();
            _status?.Dispose();
            Log.Error($"cannot open control socket {config.Admin.ControlSocket}: {e.Message}");
            takeover?.Fail($"cannot open control socket {config.Admin.ControlSocket}: {e.Message}");
            await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            return false;
        }
        if (takeover is not null && !await CommitTakeoverAsync(takeover).ConfigureAwait(false)) return false;
        Controller.Events.Append("start", $"fastlb {ProcessFigures.Version} started (pid {Environment.ProcessId})", generation: Router.Current.Generation);
        _ticker = TickLoopAsync();
        if (handleSignals) RegisterSignals();
        _systemd.Ready(); // with MAINPID: after an upgrade systemd follows this process, before the old one exits
        if (takeover is not null)
        {
            takeover.Ready(Proxy.Listeners.Select(l => l.Name));
            Log.Info($"upgrade: took over from pid {takeover.Previous.Pid} (generation {Generation.Generation}); it drains and exits");
        }
        // Last, as systemd's READY=1: whoever waits for this line may signal the process or use every socket it opened.
        Log.Info($"ready pid={Environment.ProcessId}");
        return true;
    }

    /// <summary>The descriptor split this process runs with (null when the limit is unknown).</summary>
    public DescriptorPlan? Descriptors { get; private set; }

    /// <summary>Bounds the data plane's descriptors and derives the default max_connections, so that running out of descriptors never reaches the runtime.</summary>
    private void ApplyDescriptorPlan(FastLbConfig config)
    {
        Descriptors = DescriptorPlan.Measure();
        if (Descriptors is not { } plan) return;
        DescriptorBudget.Process.Configure(plan.Budget);
        Proxy.AutoMaxConnections = plan.AutoMaxConnections;
        Log.Info(plan.Describe(config));
    }

    /// <summary>Reports "prepared", waits for the commit, then accepts and takes over the control socket path.</summary>
    private async Task<bool> CommitTakeoverAsync(UpgradeTakeover takeover)
    {
        if (!await takeover.PrepareAsync().ConfigureAwait(false))
        {
            _admin?.Dispose();
            _control?.Dispose();
            _status?.Dispose();
            await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            return false;
        }
        Proxy.StartAccepting();
        try
        {
            _control!.TakeOverPath();
            _status?.TakeOverPath();
        }
        catch (IOException e)
        {
            // Serving regardless: the data plane matters more; the operator gets told where the control socket is not.
            Log.Error($"upgrade: cannot move the control socket into place at {_control!.Path}: {e.Message}");
        }
        Log.Info($"bind control socket {_control!.Path}");
        return true;
    }

    /// <summary>Waits for SIGTERM/SIGINT (or <see cref="RequestStop"/>), then drains and returns the exit code.</summary>
    public Task<int> RunUntilStoppedAsync() => _stopped.Task;

    /// <summary>Re-reads the config; a bad file keeps the running config and the result says why. Never throws.</summary>
    /// <remarks>
    /// Every outcome is logged and returned, and systemd always hears READY=1 after RELOADING=1, so a failed reload
    /// cannot leave the unit in "reloading". A failure other than a bad file (a bug, resource exhaustion) after the
    /// traffic controller took the new file leaves that generation routing and says so; listeners keep what they had.
    /// </remarks>
    public async Task<ReloadResult> ReloadAsync()
    {
        await _reloadGate.WaitAsync().ConfigureAwait(false);
        _systemd.Reloading();
        RecreateDeletedSockets();
        try
        {
            FastLbConfig config;
            try
            {
                config = _reloadSource();
            }
            catch (ConfigException e)
            {
                Log.Error($"reload failed, keeping generation {Router.Current.Generation}: {e.Errors.Count} error(s)");
                foreach (var error in e.Errors) Log.Error($"  {error}");
                Controller.Events.Append("reload", $"reload refused, keeping generation {Router.Current.Generation}: {string.Join("; ", e.Errors)}",
                    generation: Router.Current.Generation, ok: false);
                return new ReloadResult(false, Router.Current.Generation, e.Errors.Select(x => x.ToString()).ToList(), []);
            }
            var warnings = Workers.RestartOnlyChanges(config.Workers, config.PinWorkers, config.Io);
            Log.Format = config.LogFormat;
            var change = Controller.Load(config);
            warnings.AddRange(await Proxy.ApplyAsync(config).ConfigureAwait(false));
            Proxy.AccessLogs.Reopen(); // a reload also reopens the access logs (logrotate's postrotate may send either)
            foreach (var w in warnings) Log.Warn($"reload: {w}");
            foreach (var w in config.Warnings) Log.Warn($"reload: {w}");
            Log.Info($"reload ok generation={change.Generation}");
            Controller.Events.Append("reload", $"reload ok: {change.Summary}{(warnings.Count > 0 ? "; " + string.Join("; ", warnings) : "")}", generation: change.Generation, ok: warnings.Count == 0);
            // The file's own warnings (a certificate about to expire) go back to ctl too; they do not make the reload fail.
            return new ReloadResult(true, change.Generation, [], [.. warnings, .. config.Warnings.Select(w => w.ToString())]);
        }
        catch (Exception e)
        {
            var message = $"reload failed: {e.GetType().Name}: {e.Message}";
            Log.Error($"{message}; running generation {Router.Current.Generation}");
            Controller.Events.Append("reload", $"{message}; running generation {Router.Current.Generation}", generation: Router.Current.Generation, ok: false);
            return new ReloadResult(false, Router.Current.Generation, [message], []);
        }
        finally
        {
            _systemd.Ready();
            _reloadGate.Release();
        }
    }

    /// <summary>Puts back a control or status socket file someone deleted (a reload and SIGHUP call this), so the process stays controllable.</summary>
    private void RecreateDeletedSockets()
    {
        foreach (var server in new[] { _control, _status })
        {
            try
            {
                if (server?.EnsureSocketFile() is { } done) Log.Warn(done);
            }
            catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
            {
                Log.Error($"cannot recreate {server!.What} {server.Path}: {e.Message}");
            }
        }
    }

    /// <summary>SIGHUP: reloads in the background; the outcome is logged (and told to systemd) by <see cref="ReloadAsync"/>.</summary>
    internal async Task ReloadOnSignalAsync()
    {
        Log.Info("SIGHUP: reloading");
        try
        {
            await ReloadAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.Error($"SIGHUP reload failed: {e.Message}"); // ReloadAsync reports its own failures; this is a last guard
        }
    }

    /// <summary>
    /// Replaces this process with a new one (<c>fastlb upgrade</c>, SIGUSR2) without dropping a connection: the new
    /// process gets every listening socket and the runtime state; once it accepts, this one stops accepting, drains
    /// and exits 0. A failed upgrade leaves this process serving as before. One at a time.
    /// </summary>
    /// <param name="binary">The binary to start; null = the running executable's path.</param>
    public async Task<UpgradeResult> UpgradeAsync(string? binary)
    {
        if (Volatile.Read(ref _stopping) != 0) return UpgradeResult.Failed(0, "this process is stopping", TimeSpan.Zero);
        if (Interlocked.CompareExchange(ref _upgrading, 1, 0) != 0)
        {
            return UpgradeResult.Failed(0, "an upgrade is already in progress (or done: this process is draining)", TimeSpan.Zero);
        }
        var ok = false;
        await _reloadGate.WaitAsync().ConfigureAwait(false); // no reload while the state is handed over
        try
        {
            var timeout = Controller.Config?.Admin.UpgradeTimeout ?? AdminConfig.DefaultUpgradeTimeout;
            Log.Info($"upgrade: starting {(binary ?? Environment.ProcessPath)} (upgrade_timeout {timeout.TotalSeconds:0.###}s)");
            // Rollouts stop being judged here before the state is written: the new process continues each from exactly
            // what it was handed, and only one process ever acts on a step.
            Controller.FreezeRollouts(true);
            var result = await new UpgradeCoordinator(this, timeout).RunAsync(binary).ConfigureAwait(false);
            if (result.Ok)
            {
                ok = true;
                HandOverAndStop(result.NewPid);
            }
            return result;
        }
        finally
        {
            if (!ok)
            {
                Controller.FreezeRollouts(false);
                Volatile.Write(ref _upgrading, 0);
            }
            _reloadGate.Release();
        }
    }

    /// <summary>The new process accepts: stop accepting here (the sockets stay open there), drain, exit 0.</summary>
    private void HandOverAndStop(int newPid)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0) return;
        // No STOPPING=1 to systemd: the service goes on, in the new process (MAINPID was moved to it).
        _ = HandOffCoreAsync(newPid);
    }

    private async Task HandOffCoreAsync(int newPid)
    {
        try
        {
            var timeout = Controller.Config?.Defaults.DrainTimeout ?? TimeSpan.FromSeconds(30);
            _control?.CloseForHandOver();
            _status?.CloseForHandOver();
            if (_admin?.ListenHandle is { } admin)
            {
                var added = false;
                try
                {
                    admin.DangerousAddRef(ref added);
                    FdPassing.Inherit((int)admin.DangerousGetHandle()); // shared now: see ProxyListener.MarkShared
                }
                finally
                {
                    if (added) admin.DangerousRelease();
                }
            }
            _admin?.Dispose();
            Log.Info($"upgrade: pid {newPid} serves now; draining {Proxy.LiveConnections} connection(s) here (drain_timeout {timeout.TotalSeconds:0.###}s)");
            await Proxy.HandOffAsync(timeout).ConfigureAwait(false);
            if (_control is not null) await _control.WhenRepliesSentAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            Http.Dispose();
            _shutdown.Cancel();
            Log.Info($"stopped (upgraded to pid {newPid})");
            _stopped.TrySetResult(0);
        }
        catch (Exception e)
        {
            Log.Error($"drain after upgrade failed: {e.Message}");
            _stopped.TrySetResult(1);
        }
    }

    /// <summary>Begins a graceful stop: stop accepting, drain up to drain_timeout, exit 0.</summary>
    public void RequestStop(string reason)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0) return;
        Log.Info($"stop requested ({reason}): no new connections; draining");
        _systemd.Stopping();
        _ = StopCoreAsync();
    }

    private async Task StopCoreAsync()
    {
        try
        {
            var timeout = Controller.Config?.Defaults.DrainTimeout ?? TimeSpan.FromSeconds(30);
            _control?.Dispose();
            _status?.Dispose();
            _admin?.Dispose();
            await Proxy.StopAsync(timeout).ConfigureAwait(false);
            Prober.Dispose();
            Http.Dispose();
            _shutdown.Cancel();
            Log.Info("stopped");
            _stopped.TrySetResult(0);
        }
        catch (Exception e)
        {
            Log.Error($"stop failed: {e.Message}");
            _stopped.TrySetResult(1);
        }
    }

    /// <summary>SIGUSR1 or <c>ctl reopen-logs</c>: every access log file is closed and opened again (logrotate moved it).</summary>
    public void ReopenLogs(string reason)
    {
        Proxy.AccessLogs.Reopen();
        Log.Info($"{reason}: reopening access logs");
    }

    private void RegisterSignals()
    {
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            _ = ReloadOnSignalAsync();
        }));
        _signals.Add(PosixSignalRegistration.Create((PosixSignal)10 /* SIGUSR1 */, ctx =>
        {
            ctx.Cancel = true;
            ReopenLogs("SIGUSR1");
        }));
        _signals.Add(PosixSignalRegistration.Create((PosixSignal)12 /* SIGUSR2 */, ctx =>
        {
            ctx.Cancel = true;
            Log.Info("SIGUSR2: upgrading");
            _ = UpgradeAsync(binary: null); // the outcome is logged
        }));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            RequestStop("SIGTERM");
        }));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true;
            RequestStop("SIGINT");
        }));
    }

    private async Task TickLoopAsync()
    {
        using var timer = new PeriodicTimer(TickInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                Controller.Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _signals) s.Dispose();
        _signals.Clear();
        _control?.Dispose();
        _status?.Dispose();
        _admin?.Dispose(); // its listening socket closes: a dashboard open on it sees "disconnected"
        await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        Prober.Dispose();
        Http.Dispose();
        _shutdown.Cancel();
        if (_ticker is not null) await _ticker.ConfigureAwait(false);
        _shutdown.Dispose();
        Instruments.Dispose();
    }
}
