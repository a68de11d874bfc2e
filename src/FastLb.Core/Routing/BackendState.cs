using System.Net;

namespace FastLb.Core.Routing;

/// <summary>Long-lived runtime state of one backend (live connections, counters, health); survives table swaps.</summary>
internal sealed class BackendState(string service, string pool, string address, IPEndPoint? endPoint)
{
    private int _live;
    private long _total;
    private long _failures;
    private volatile bool _healthy = true;
    private readonly Lock _connectionsLock = new();
    private IDrainable? _head; // intrusive list of registered connections, linked through IDrainable.DrainLink

    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string Address { get; } = address;
    public IPEndPoint? EndPoint { get; } = endPoint;

    public int Live => Volatile.Read(ref _live);
    public long TotalConnections => Interlocked.Read(ref _total);
    public long Failures => Interlocked.Read(ref _failures);
    public bool Healthy { get => _healthy; set => _healthy = value; }

    /// <summary>Counts a connection (TCP) or request (HTTP) that started on this backend; allocation-free.</summary>
    public void Acquire(IDrainable? connection)
    {
        Interlocked.Increment(ref _live);
        Interlocked.Increment(ref _total);
        if (connection is null) return;
        lock (_connectionsLock)
        {
            ref var link = ref connection.DrainLink;
            if (link.Owner is not null) return; // already registered (a tunnel after its upgrade request)
            link.Owner = this;
            link.Previous = null;
            link.Next = _head;
            if (_head is not null) _head.DrainLink.Previous = connection;
            _head = connection;
        }
    }

    /// <summary>Balances one <see cref="Acquire"/>.</summary>
    public void Release(IDrainable? connection)
    {
        if (connection is not null)
        {
            lock (_connectionsLock)
            {
                ref var link = ref connection.DrainLink;
                if (ReferenceEquals(link.Owner, this))
                {
                    if (link.Previous is null) _head = link.Next;
                    else link.Previous.DrainLink.Next = link.Next;
                    if (link.Next is not null) link.Next.DrainLink.Previous = link.Previous;
                    link = default;
                }
            }
        }
        Interlocked.Decrement(ref _live);
    }

    public void RecordFailure() => Interlocked.Increment(ref _failures);

    /// <summary>Aborts every registered connection; returns how many were cut. Cold path (drain deadline).</summary>
    public int AbortAll()
    {
        var victims = new List<IDrainable>();
        lock (_connectionsLock)
        {
            for (var c = _head; c is not null; c = c.DrainLink.Next) victims.Add(c);
        }
        // Abort outside the lock: an abort may release (and so unlink) the connection synchronously.
        foreach (var c in victims) c.Abort();
        return victims.Count;
    }
}
