using FastLb.Core.Config;

namespace FastLb.Core.Health;

/// <summary>
/// Health of one backend, kept in its <see cref="Routing.BackendState"/> so it survives table swaps and reloads: the
/// active-check state machine (prober thread), passive outlier counters (data plane, atomics) and the slow-start
/// ramp. The routing table never reads this on a pick: the table builder turns it into each generation's view.
/// </summary>
internal sealed class BackendHealth(TimeProvider time)
{
    private readonly Lock _checkLock = new(); // active-check fields: written by the prober, read by status
    private HealthStatus _status;
    private long _sinceTicks;
    private int _passesInRow;
    private int _failuresInRow;
    private CheckResult? _lastCheck;
    private long _lastCheckTicks;
    private long _checks;
    private long _checkFailures;
    private long _checkLatencyTicks;

    private int _requestFailuresInRow;
    private long _ejectedUntilTicks;   // 0 = not ejected
    private long _ejectedSinceTicks;
    private long _returnedTicks;       // when the last ejection ended
    private int _timesEjected;         // multiplier of the next ejection
    private long _ejections;
    private string? _lastFailure;      // a fixed text set by the data plane
    private long _rampStartTicks;      // 0 = no ramp

    /// <summary>The service's outlier settings (null = no ejection); set by the table builder.</summary>
    public OutlierConfig? Outlier { get; set; }

    /// <summary>The pool's ejection budget; set by the table builder.</summary>
    public PoolEjectionBudget? Budget { get; set; }

    /// <summary>True when an active check applies to this backend in the current table.</summary>
    public bool Checked { get; set; }

    public InitialHealth Initial { get; set; }

    public HealthStatus Status
    {
        get
        {
            lock (_checkLock) return _status;
        }
    }

    public DateTimeOffset? Since
    {
        get
        {
            lock (_checkLock) return _sinceTicks == 0 ? null : new DateTimeOffset(_sinceTicks, TimeSpan.Zero);
        }
    }

    public CheckResult? LastCheck
    {
        get
        {
            lock (_checkLock) return _lastCheck;
        }
    }

    public DateTimeOffset? LastCheckAt
    {
        get
        {
            lock (_checkLock) return _lastCheckTicks == 0 ? null : new DateTimeOffset(_lastCheckTicks, TimeSpan.Zero);
        }
    }

    public (int Passes, int Failures) InRow
    {
        get
        {
            lock (_checkLock) return (_passesInRow, _failuresInRow);
        }
    }

    /// <summary>Checks run, checks failed, and the summed latency (metrics).</summary>
    public (long Checks, long Failed, TimeSpan Latency) CheckCounts
    {
        get
        {
            lock (_checkLock) return (_checks, _checkFailures, TimeSpan.FromTicks(_checkLatencyTicks));
        }
    }

    public long Ejections => Interlocked.Read(ref _ejections);
    public int RequestFailuresInRow => Volatile.Read(ref _requestFailuresInRow);
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    public DateTimeOffset? EjectedUntil
    {
        get
        {
            var t = Volatile.Read(ref _ejectedUntilTicks);
            return t == 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    /// <summary>Cheap data-plane test: an ejection is in force (or just ended and not yet cleared by the control plane).</summary>
    public bool EjectionMarked => Volatile.Read(ref _ejectedUntilTicks) != 0;

    public bool IsEjected(DateTimeOffset now)
    {
        var t = Volatile.Read(ref _ejectedUntilTicks);
        return t != 0 && now.UtcTicks < t;
    }

    /// <summary>
    /// Records one active check; returns the state change it caused, if any. Unknown resolves on the first result
    /// (unless <c>initial_state: healthy</c>, which counts unknown as healthy); otherwise the thresholds decide.
    /// A passing check also ends an ejection early.
    /// </summary>
    public HealthTransition? RecordCheck(CheckResult result, HealthCheckConfig config)
    {
        var now = time.GetUtcNow();
        HealthTransition? transition = null;
        lock (_checkLock)
        {
            _lastCheck = result;
            _lastCheckTicks = now.UtcTicks;
            _checks++;
            _checkLatencyTicks += result.Latency.Ticks;
            var from = _status;
            if (result.Passed)
            {
                _passesInRow++;
                _failuresInRow = 0;
                if (from != HealthStatus.Healthy && (from == HealthStatus.Unknown || _passesInRow >= config.HealthyThreshold))
                {
                    _status = HealthStatus.Healthy;
                    transition = new HealthTransition(from, HealthStatus.Healthy, $"{result.Describe()} ({_passesInRow} in a row)");
                }
            }
            else
            {
                _checkFailures++;
                _failuresInRow++;
                _passesInRow = 0;
                var countsAsHealthy = from == HealthStatus.Healthy || (from == HealthStatus.Unknown && Initial == InitialHealth.Healthy);
                if (from != HealthStatus.Unhealthy && (!countsAsHealthy || _failuresInRow >= config.UnhealthyThreshold))
                {
                    _status = HealthStatus.Unhealthy;
                    transition = new HealthTransition(from, HealthStatus.Unhealthy, $"{result.Describe()} ({_failuresInRow} in a row)");
                }
            }
            if (transition is not null) _sinceTicks = now.UtcTicks;
        }
        if (transition is { To: HealthStatus.Healthy }) StartRamp(now);
        if (result.Passed) EndEjection(now, early: true);
        return transition;
    }

    /// <summary>Data plane: the backend served a response (or accepted a TCP connection). One read when nothing failed before.</summary>
    public void RecordSuccess()
    {
        if (Volatile.Read(ref _requestFailuresInRow) != 0) Volatile.Write(ref _requestFailuresInRow, 0);
    }

    /// <summary>
    /// Data plane: a connect failure or timeout, a reset before the response head, or (eject_on_5xx) a 5xx.
    /// <paramref name="reason"/> must be a fixed text. On the n-th failure in a row the backend is ejected when the
    /// pool's budget allows; true when this call ejected it.
    /// </summary>
    public bool RecordFailure(string reason)
    {
        Volatile.Write(ref _lastFailure, reason);
        var outlier = Outlier;
        var n = Interlocked.Increment(ref _requestFailuresInRow);
        if (outlier is null || n < outlier.ConsecutiveFailures || EjectionMarked) return false;
        var budget = Budget;
        if (budget is null) return false;
        var now = time.GetUtcNow();
        return budget.TryEject(this, outlier.MaxEjectedPercent, now, h => h.NextEjectionEnd(outlier, now));
    }

    private long NextEjectionEnd(OutlierConfig outlier, DateTimeOffset now)
    {
        // A backend that stayed in for max_ejection since its last return starts over at base_ejection.
        var returned = Volatile.Read(ref _returnedTicks);
        if (returned != 0 && now.UtcTicks - returned > outlier.MaxEjection.Ticks) Volatile.Write(ref _timesEjected, 0);
        var times = Interlocked.Increment(ref _timesEjected);
        var duration = TimeSpan.FromTicks(Math.Min(outlier.BaseEjection.Ticks * times, outlier.MaxEjection.Ticks));
        return (now + duration).UtcTicks;
    }

    /// <summary>The fixed reason an ejection by a 429's Retry-After records (see <see cref="EjectFor"/>).</summary>
    public const string RetryAfterReason = "429 with Retry-After";

    /// <summary>
    /// Data plane: the backend asked for no traffic for <paramref name="duration"/> (a 429's Retry-After). Ejects it
    /// until then, outside the outlier budget (the backend said so itself); an ejection in force is lengthened, never
    /// shortened. True when this call ejected or lengthened it.
    /// </summary>
    public bool EjectFor(TimeSpan duration)
    {
        var now = time.GetUtcNow();
        var until = (now + duration).UtcTicks;
        Volatile.Write(ref _lastFailure, RetryAfterReason);
        while (true)
        {
            var current = Volatile.Read(ref _ejectedUntilTicks);
            if (current >= until) return false;
            if (Interlocked.CompareExchange(ref _ejectedUntilTicks, until, current) != current) continue;
            if (current == 0)
            {
                Volatile.Write(ref _ejectedSinceTicks, now.UtcTicks);
                Interlocked.Increment(ref _ejections);
            }
            return true;
        }
    }

    /// <summary>Called under the pool budget's lock.</summary>
    internal bool MarkEjected(long untilTicks, DateTimeOffset now)
    {
        if (Interlocked.CompareExchange(ref _ejectedUntilTicks, untilTicks, 0) != 0) return false;
        Volatile.Write(ref _ejectedSinceTicks, now.UtcTicks);
        Volatile.Write(ref _requestFailuresInRow, 0);
        Interlocked.Increment(ref _ejections);
        return true;
    }

    /// <summary>Control plane: ends an ejection whose time is up (or any, when <paramref name="early"/>); true when this call ended it.</summary>
    public bool EndEjection(DateTimeOffset now, bool early = false)
    {
        var until = Volatile.Read(ref _ejectedUntilTicks);
        if (until == 0 || (!early && now.UtcTicks < until)) return false;
        if (Interlocked.CompareExchange(ref _ejectedUntilTicks, 0, until) != until) return false;
        Volatile.Write(ref _returnedTicks, now.UtcTicks);
        StartRamp(now);
        return true;
    }

    private void StartRamp(DateTimeOffset now) => Volatile.Write(ref _rampStartTicks, now.UtcTicks);

    /// <summary>
    /// The slow-start share of full weight at <paramref name="now"/>: linear from 10% to 100% over
    /// <paramref name="slowStart"/> after the backend became healthy or returned from ejection; 1 when no ramp runs.
    /// </summary>
    public double RampFactor(DateTimeOffset now, TimeSpan slowStart)
    {
        var start = Volatile.Read(ref _rampStartTicks);
        if (start == 0 || slowStart <= TimeSpan.Zero) return 1;
        return SlowStart.Factor(TimeSpan.FromTicks(now.UtcTicks - start), slowStart);
    }

    /// <summary>
    /// Whether this backend may take traffic at <paramref name="now"/> by its own health (panic aside): not ejected
    /// and, when checked, healthy (or unknown with <c>initial_state: healthy</c>).
    /// </summary>
    public bool IsAvailable(DateTimeOffset now) => !IsEjected(now) && ActiveOk;

    private bool ActiveOk
    {
        get
        {
            if (!Checked) return true;
            var status = Status;
            return status == HealthStatus.Healthy || (status == HealthStatus.Unknown && Initial == InitialHealth.Healthy);
        }
    }

    /// <summary>The state shown in status and metrics: ejected, unhealthy, unknown or healthy.</summary>
    public BackendHealthState StateAt(DateTimeOffset now)
    {
        if (IsEjected(now)) return BackendHealthState.Ejected;
        if (!Checked) return BackendHealthState.Healthy;
        return Status switch
        {
            HealthStatus.Healthy => BackendHealthState.Healthy,
            HealthStatus.Unhealthy => BackendHealthState.Unhealthy,
            _ => BackendHealthState.Unknown,
        };
    }

    /// <summary>Everything needed to carry this backend's health across a binary upgrade.</summary>
    public BackendHealthRecord Export()
    {
        lock (_checkLock)
        {
            return new BackendHealthRecord(_status, _sinceTicks, _passesInRow, _failuresInRow,
                Volatile.Read(ref _ejectedUntilTicks), Volatile.Read(ref _timesEjected), Volatile.Read(ref _returnedTicks),
                Interlocked.Read(ref _ejections), Volatile.Read(ref _rampStartTicks));
        }
    }

    /// <summary>Restores what <see cref="Export"/> wrote (a new process taking over from the old one).</summary>
    public void Import(BackendHealthRecord record)
    {
        lock (_checkLock)
        {
            _status = record.Status;
            _sinceTicks = record.SinceTicks;
            _passesInRow = record.PassesInRow;
            _failuresInRow = record.FailuresInRow;
        }
        Volatile.Write(ref _ejectedUntilTicks, record.EjectedUntilTicks);
        Volatile.Write(ref _timesEjected, record.TimesEjected);
        Volatile.Write(ref _returnedTicks, record.ReturnedTicks);
        Interlocked.Exchange(ref _ejections, record.Ejections);
        Volatile.Write(ref _rampStartTicks, record.RampStartTicks);
    }
}
