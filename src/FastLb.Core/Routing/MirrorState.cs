namespace FastLb.Core.Routing;

/// <summary>
/// Counters of the copies sent to one mirror pool, kept across swaps and reloads (one per service and pool): the
/// in-flight count that bounds them, and what became of each copy. Atomics only: every proxy loop updates it.
/// </summary>
internal sealed class MirrorState(string service, string pool)
{
    private long _inFlight;
    private long _sent;
    private long _failed;
    private long _dropped;

    public string Service { get; } = service;
    public string Pool { get; } = pool;

    /// <summary>Copies started and not finished yet.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Copies written whole to a mirror backend.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Copies that found no backend, could not connect or be written, got no response, or a 5xx.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Requests chosen for a copy but not copied: the in-flight bound was reached, or the body was too large.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Takes an in-flight slot when fewer than <paramref name="max"/> are taken; else counts a drop and returns false.</summary>
    public bool TryAcquire(int max)
    {
        if (Interlocked.Increment(ref _inFlight) <= max) return true;
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>Gives the slot back when a copy ended (sent, failed or abandoned).</summary>
    public void Release() => Interlocked.Decrement(ref _inFlight);

    public void CountSent() => Interlocked.Increment(ref _sent);

    public void CountFailed() => Interlocked.Increment(ref _failed);

    public void CountDropped() => Interlocked.Increment(ref _dropped);
}
