using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

/// <summary>A pool (Address null) or one backend that lost its traffic and whose live connections are draining.</summary>
internal sealed class DrainEntry(string service, string pool, string? address, BackendState[] backends, DateTimeOffset since, DateTimeOffset deadline)
{
    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string? Address { get; } = address;
    public BackendState[] Backends { get; } = backends;
    public DateTimeOffset Since { get; } = since;
    public DateTimeOffset Deadline { get; } = deadline;

    /// <summary>When the live count first reached 0, or null while connections remain.</summary>
    public DateTimeOffset? DrainedAt { get; set; }

    private readonly HashSet<IDrainable> _cut = new(ReferenceEqualityComparer.Instance); // cut and maybe not released yet
    private int _aborted;

    /// <summary>Connections cut at the deadline, each counted once.</summary>
    public int Aborted => Volatile.Read(ref _aborted);

    /// <summary>Starts the count at what another process already cut (a drain handed over by an upgrade).</summary>
    public void RestoreAborted(int aborted) => Volatile.Write(ref _aborted, aborted);

    /// <summary>Counts <paramref name="connection"/> as cut; false when it was already.</summary>
    public bool RecordCut(IDrainable connection)
    {
        lock (_cut)
        {
            if (!_cut.Add(connection)) return false;
        }
        Interlocked.Increment(ref _aborted);
        return true;
    }

    /// <summary>Drops the references to cut connections once the drain reached 0 (the count stays).</summary>
    public void ForgetCut()
    {
        lock (_cut) _cut.Clear();
    }

    public int Live
    {
        get
        {
            var n = 0;
            // A pool drain waits for what came by share; preview traffic through a pinned route stays.
            foreach (var b in Backends) n += Address is null ? b.SharedLive : b.Live;
            return n;
        }
    }

    public string Describe() => Address is null ? $"{Service}/{Pool}" : $"{Service}/{Pool}/{Address}";
}
