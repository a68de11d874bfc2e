namespace FastLb.Proxy.Http;

/// <summary>
/// One connection's current timeout phase (keep-alive, request head, response head, body, tunnel idle): armed by the
/// connection's code, checked by the server's heartbeat, expired on the connection's loop. Plain field writes, no timer.
/// </summary>
/// <remarks>
/// The phase number and the expired flag share one word (<c>_state</c>: number &lt;&lt; 1 | expired), so expiring
/// is one compare-exchange against the phase the heartbeat saw as due: a phase armed after that check has another
/// number and cannot be expired by it. <see cref="Arm"/> clears the flag; <see cref="Disarm"/> keeps it, so the
/// code whose wait the expiry ended still sees <see cref="Expired"/> after the phase closed.
/// </remarks>
internal struct TimeoutPhase
{
    private int _state;
    private long _timeoutMs;
    private long _progressMs;

    /// <summary>True once the current (or just disarmed) phase timed out, until the next <see cref="Arm"/>.</summary>
    public readonly bool Expired => (Volatile.Read(in _state) & 1) != 0;

    /// <summary>Starts a phase: due after <paramref name="timeoutMs"/> without progress; zero or less arms nothing.</summary>
    public void Arm(long timeoutMs, long nowMs)
    {
        // Order: no deadline, new phase (flag cleared), progress, deadline. A heartbeat that sees the deadline sees
        // this phase's progress; one that read the old phase fails its final re-read.
        Volatile.Write(ref _timeoutMs, 0);
        Advance(clearExpired: true);
        if (timeoutMs <= 0) return;
        Volatile.Write(ref _progressMs, nowMs);
        Volatile.Write(ref _timeoutMs, timeoutMs);
    }

    /// <summary>Records progress: the phase's idle time starts again.</summary>
    public void Touch(long nowMs) => Volatile.Write(ref _progressMs, nowMs);

    /// <summary>Ends the phase; a heartbeat still due finds nothing to expire.</summary>
    public void Disarm()
    {
        Advance(clearExpired: false);
        Volatile.Write(ref _timeoutMs, 0);
    }

    /// <summary>Any thread: true when the current phase made no progress in time; <paramref name="phase"/> names it for <see cref="TryExpire"/>.</summary>
    public readonly bool IsDue(long nowMs, out int phase)
    {
        phase = Volatile.Read(in _state);
        if ((phase & 1) != 0) return false; // already expired
        var timeout = Volatile.Read(in _timeoutMs);
        if (timeout <= 0 || nowMs - Volatile.Read(in _progressMs) < timeout) return false;
        return Volatile.Read(in _state) == phase;
    }

    /// <summary>Expires <paramref name="phase"/> if it is still the current one and still due; false when it ended, progressed or expired already.</summary>
    public bool TryExpire(int phase, long nowMs)
    {
        if (!IsDue(nowMs, out var current) || current != phase) return false;
        return Interlocked.CompareExchange(ref _state, phase | 1, phase) == phase;
    }

    private void Advance(bool clearExpired)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            var next = ((state >> 1) + 1) << 1 | (clearExpired ? 0 : state & 1);
            if (Interlocked.CompareExchange(ref _state, next, state) == state) return;
        }
    }
}
