using System.Net;

namespace FastLb.Core.Routing;

/// <summary>Long-lived runtime state of one backend (live connections, counters, health); survives table swaps.</summary>
internal sealed class BackendState(string service, string pool, string address, IPEndPoint? endPoint)
{
    private int _live;
    private long _total;
    private long _failures;
    private volatile bool _healthy = true;

    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string Address { get; } = address;
    public IPEndPoint? EndPoint { get; } = endPoint;

    public int Live => Volatile.Read(ref _live);
    public long TotalConnections => Interlocked.Read(ref _total);
    public long Failures => Interlocked.Read(ref _failures);
    public bool Healthy { get => _healthy; set => _healthy = value; }

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

    public void RecordFailure() => Interlocked.Increment(ref _failures);

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
