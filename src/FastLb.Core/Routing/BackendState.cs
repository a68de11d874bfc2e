using System.Net;
using FastLb.Core.Health;

namespace FastLb.Core.Routing;

/// <summary>Long-lived runtime state of one backend (live connections, counters, health); survives table swaps.</summary>
internal sealed class BackendState(string service, string pool, string address, IPEndPoint? endPoint, TimeProvider? time = null)
{
    private int _live;
    private long _total;
    private long _failures;

    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string Address { get; } = address;
    public IPEndPoint? EndPoint { get; } = endPoint;

    public int Live => Volatile.Read(ref _live);
    public long TotalConnections => Interlocked.Read(ref _total);
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Active-check state, outlier counters and slow-start ramp; the table builder turns it into each generation's view.</summary>
    public BackendHealth Health { get; } = new(time ?? TimeProvider.System);

    /// <summary>
    /// Counts a connection (TCP) or request (HTTP) that started on this backend and marks <paramref name="connection"/>
    /// as running on it. Lock-free and allocation-free: two atomic increments and a field write.
    /// </summary>
    public void Acquire(IDrainable? connection)
    {
        Interlocked.Increment(ref _live);
        Interlocked.Increment(ref _total);
        if (connection is null) return;
        ref var owner = ref connection.DrainLink.Owner;
        if (owner is null) Volatile.Write(ref owner, this); // else already marked (a tunnel after its upgrade request)
    }

    /// <summary>Balances one <see cref="Acquire"/>.</summary>
    public void Release(IDrainable? connection)
    {
        if (connection is not null)
        {
            ref var owner = ref connection.DrainLink.Owner;
            if (ReferenceEquals(owner, this)) Volatile.Write(ref owner, null);
        }
        Interlocked.Decrement(ref _live);
    }

    /// <summary>
    /// Counts a failed attempt on this backend (connect failure or timeout, reset before the response head, a 5xx
    /// with eject_on_5xx) and feeds outlier ejection; <paramref name="reason"/> is a fixed text. Allocation-free.
    /// </summary>
    public void RecordFailure(string reason)
    {
        Interlocked.Increment(ref _failures);
        Health.RecordFailure(reason);
    }

    /// <summary>The backend answered (or accepted a TCP connection): ends its run of failures.</summary>
    public void RecordSuccess() => Health.RecordSuccess();

    /// <summary>
    /// Aborts every connection of <paramref name="connections"/> that runs on this backend; returns how many were cut.
    /// Cold path (drain deadline): it walks all open connections.
    /// </summary>
    public int AbortAll(IEnumerable<IDrainable> connections)
    {
        var victims = new List<IDrainable>();
        foreach (var c in connections)
        {
            if (ReferenceEquals(Volatile.Read(ref c.DrainLink.Owner), this)) victims.Add(c);
        }
        // Abort after the walk: an abort may release the connection synchronously.
        foreach (var c in victims) c.Abort();
        return victims.Count;
    }
}
