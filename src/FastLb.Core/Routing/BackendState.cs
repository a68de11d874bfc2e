using System.Collections.Concurrent;
using System.Net;

namespace FastLb.Core.Routing;

/// <summary>Long-lived runtime state of one backend (live connections, counters, health); survives table swaps.</summary>
internal sealed class BackendState(string service, string pool, string address, IPEndPoint? endPoint)
{
    private int _live;
    private long _total;
    private long _failures;
    private volatile bool _healthy = true;
    private readonly ConcurrentDictionary<IDrainable, byte> _connections = new(ReferenceEqualityComparer.Instance);

    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string Address { get; } = address;
    public IPEndPoint? EndPoint { get; } = endPoint;

    public int Live => Volatile.Read(ref _live);
    public long TotalConnections => Interlocked.Read(ref _total);
    public long Failures => Interlocked.Read(ref _failures);
    public bool Healthy { get => _healthy; set => _healthy = value; }

    /// <summary>Counts a connection (TCP) or request (HTTP) that started on this backend.</summary>
    public void Acquire(IDrainable? connection)
    {
        Interlocked.Increment(ref _live);
        Interlocked.Increment(ref _total);
        if (connection is not null) _connections.TryAdd(connection, 0);
    }

    /// <summary>Balances one <see cref="Acquire"/>.</summary>
    public void Release(IDrainable? connection)
    {
        if (connection is not null) _connections.TryRemove(connection, out _);
        Interlocked.Decrement(ref _live);
    }

    public void RecordFailure() => Interlocked.Increment(ref _failures);

    /// <summary>Aborts every registered connection; returns how many were cut.</summary>
    public int AbortAll()
    {
        var n = 0;
        foreach (var c in _connections.Keys)
        {
            c.Abort();
            n++;
        }
        return n;
    }
}
