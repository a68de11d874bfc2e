using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Core.Traffic;
using FastLb.Host.Admin;
using FastLb.Host.Control;
using FastLb.Host.Systemd;
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
    private AdminHttpServer? _admin;
    private Task? _ticker;
    private int _stopping;

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
    public async Task<bool> StartAsync(FastLbConfig config, bool handleSignals = true)
    {
        Log.Format = config.LogFormat;
        Log.Info($"start fastlb pid={Environment.ProcessId} config={config.SourcePath} workers={Workers.Workers}{(Workers.Pinned ? " pinned" : "")}");
        Controller.Load(config);
        var errors = await Proxy.ApplyAsync(config).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            foreach (var e in errors) Log.Error(e);
            await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            return false;
        }
        foreach (var l in Proxy.Listeners) Log.Info($"bind listener '{l.Name}' {l.EndPoint}");
        Prober.Start();
        try
        {
            var handler = new ControlCommandHandler(this);
            _control = new ControlServer(config.Admin.ControlSocket, handler);
            _control.Start();
            Log.Info($"bind control socket {config.Admin.ControlSocket}");
            if (config.Admin.Listen?.ToIPEndPoint() is { } adminBind)
            {
                _admin = new AdminHttpServer(adminBind, this, handler);
                try
                {
                    _admin.Start();
                }
                catch (SocketException e)
                {
                    Log.Error($"cannot bind admin http {adminBind}: {e.Message}");
                    _admin.Dispose();
                    _control.Dispose();
                    await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
                    return false;
                }
                Log.Info($"bind admin http {_admin.EndPoint} (/, /status, /metrics; read-only)");
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            Log.Error($"cannot open control socket {config.Admin.ControlSocket}: {e.Message}");
            await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            return false;
        }
        Controller.Events.Append("start", $"fastlb {ProcessFigures.Version} started (pid {Environment.ProcessId})", generation: Router.Current.Generation);
        _ticker = TickLoopAsync();
        if (handleSignals) RegisterSignals();
        _systemd.Ready();
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
            Workers.WarnIfChanged(config.Workers, config.PinWorkers);
            Log.Format = config.LogFormat;
            var change = Controller.Load(config);
            var warnings = await Proxy.ApplyAsync(config).ConfigureAwait(false);
            foreach (var w in warnings) Log.Warn($"reload: {w}");
            Log.Info($"reload ok generation={change.Generation}");
            Controller.Events.Append("reload", $"reload ok: {change.Summary}{(warnings.Count > 0 ? "; " + string.Join("; ", warnings) : "")}", generation: change.Generation, ok: warnings.Count == 0);
            return new ReloadResult(true, change.Generation, [], warnings);
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

    private void RegisterSignals()
    {
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            _ = ReloadOnSignalAsync();
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
        await Proxy.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        Prober.Dispose();
        Http.Dispose();
        _shutdown.Cancel();
        if (_ticker is not null) await _ticker.ConfigureAwait(false);
        _shutdown.Dispose();
        Instruments.Dispose();
    }
}
