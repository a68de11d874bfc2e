using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    /// <summary>How long a drained entry of a pool or backend that left the config stays visible in status.</summary>
    private static readonly TimeSpan RetiredVisibleFor = TimeSpan.FromMinutes(5);

    private readonly Dictionary<DrainKey, DrainEntry> _drains = [];

    /// <summary>
    /// Starts a drain for every pool and backend that had traffic in <paramref name="old"/> and has none in
    /// <paramref name="next"/>, and ends the drain of those that got traffic back. Caller holds the write lock.
    /// </summary>
    private void UpdateDrains(RoutingTable old, RoutingTable next)
    {
        var now = time.GetUtcNow();
        foreach (var (name, oldService) in old.Services)
        {
            var nextService = next.FindService(name);
            var drainTimeout = (nextService?.Config ?? oldService.Config).DrainTimeout;
            foreach (var oldPool in oldService.Pools)
            {
                if (oldPool.Share == 0) continue;
                var nextPool = nextService?.FindPool(oldPool.Name);
                if (nextPool is null || nextPool.Share == 0)
                {
                    StartDrain(new DrainKey(name, oldPool.Name, null), States(oldPool.Backends), now, drainTimeout);
                    continue;
                }
                foreach (var oldBackend in oldPool.Backends)
                {
                    if (oldBackend.Weight == 0) continue;
                    var nextBackend = FindBackend(nextPool, oldBackend.Address);
                    if (nextBackend is null || nextBackend.Weight == 0)
                    {
                        StartDrain(new DrainKey(name, oldPool.Name, oldBackend.Address), [oldBackend.State], now, drainTimeout);
                    }
                }
            }
        }
        foreach (var (name, service) in next.Services)
        {
            foreach (var pool in service.Pools)
            {
                if (pool.Share == 0) continue;
                EndDrain(new DrainKey(name, pool.Name, null));
                foreach (var backend in pool.Backends)
                {
                    if (backend.Weight > 0) EndDrain(new DrainKey(name, pool.Name, backend.Address));
                }
            }
        }
    }

    /// <summary>Advances every drain: records when it reached 0 and cuts what remains past its deadline. Call about every 100-250 ms.</summary>
    /// <remarks>Also judges running rollouts (a breach is published within one tick).</remarks>
    /// <remarks>
    /// The bookkeeping runs under the write lock; cutting does not. Drains past their deadline are collected by
    /// backend, then the open connections are walked once for all of them, outside the lock (a command or reload is
    /// never held up by a walk of every connection), and each connection is cut and counted once: one whose abort has
    /// not released it yet is skipped on the next tick rather than counted again.
    /// </remarks>
    public void Tick()
    {
        RefreshHealth();
        AdvanceRollouts(); // after the health refresh: a backend that just turned unhealthy fails the step now
        Dictionary<BackendState, DrainEntry>? overdue = null;
        lock (_writeLock)
        {
            var now = time.GetUtcNow();
            List<DrainKey>? retired = null;
            foreach (var (key, entry) in _drains)
            {
                var live = entry.Live;
                if (live == 0)
                {
                    if (entry.DrainedAt is null)
                    {
                        entry.DrainedAt = now;
                        entry.ForgetCut();
                        Log.Info($"drain end {entry.Describe()}: 0 connections after {(now - entry.Since).TotalSeconds:0.0}s");
                        var cut = entry.Aborted > 0 ? $", {entry.Aborted} cut at the deadline" : "";
                        Events.Append("drain_finished", $"{entry.Describe()} drained in {(now - entry.Since).TotalSeconds:0.0}s{cut}", entry.Service, entry.Pool);
                    }
                    else if (now - entry.DrainedAt.Value > RetiredVisibleFor && !IsConfigured(key))
                    {
                        (retired ??= []).Add(key);
                    }
                    continue;
                }
                entry.DrainedAt = null;
                if (now < entry.Deadline) continue;
                overdue ??= new Dictionary<BackendState, DrainEntry>(ReferenceEqualityComparer.Instance);
                foreach (var b in entry.Backends) overdue.TryAdd(b, entry); // a backend in two drains is cut (and counted) by the first
            }
            if (retired is not null)
            {
                foreach (var key in retired) _drains.Remove(key);
            }
        }
        if (overdue is not null && Connections is { } directory) CutOverdue(overdue, directory);
        Stats.Tick(); // closes a second at most once a second
    }

    /// <summary>Aborts the connections still open on the backends of drains past their deadline; each one is counted once.</summary>
    private void CutOverdue(Dictionary<BackendState, DrainEntry> overdue, IConnectionDirectory directory)
    {
        List<(IDrainable Connection, DrainEntry Entry, BackendState Owner)>? victims = null;
        foreach (var c in directory.Connections)
        {
            var owner = Volatile.Read(ref c.DrainLink.Owner);
            if (owner is null || !overdue.TryGetValue(owner, out var entry)) continue;
            // A pool's drain cuts only what came by share: a route that pins the pool still takes traffic.
            if (entry.Address is null && c.DrainLink.Pinned) continue;
            (victims ??= []).Add((c, entry, owner));
        }
        if (victims is null) return;
        // Abort after the walk: an abort may release the connection synchronously.
        Dictionary<DrainEntry, int>? cutPerEntry = null;
        foreach (var (c, entry, owner) in victims)
        {
            if (!entry.RecordCut(c)) continue; // cut on an earlier tick, not released yet
            c.CutAtDrainDeadline(); // HTTP answers a request still waiting for its head with 503
            owner.Traffic.Add(TrafficField.DrainCuts);
            cutPerEntry ??= new Dictionary<DrainEntry, int>(ReferenceEqualityComparer.Instance);
            cutPerEntry[entry] = cutPerEntry.GetValueOrDefault(entry) + 1;
        }
        if (cutPerEntry is null) return;
        foreach (var (entry, cut) in cutPerEntry)
        {
            Log.Warn($"drain timeout {entry.Describe()}: closed {cut} connection(s) still open at the deadline");
            Events.Append("drain_cut", $"{entry.Describe()}: {cut} connection(s) cut at the deadline", entry.Service, entry.Pool, ok: false);
        }
    }

    /// <summary>Drains in progress or finished, for status and tests.</summary>
    public IReadOnlyList<DrainEntry> Drains
    {
        get
        {
            lock (_writeLock) return [.. _drains.Values];
        }
    }

    private void StartDrain(DrainKey key, BackendState[] backends, DateTimeOffset now, TimeSpan timeout)
    {
        if (_drains.ContainsKey(key)) return;
        var entry = new DrainEntry(key.Service, key.Pool, key.Address, backends, now, now + timeout);
        _drains[key] = entry;
        Log.Info($"drain start {entry.Describe()}: {entry.Live} live connection(s), deadline in {timeout.TotalSeconds:0.#}s");
        Events.Append("drain_started", $"{entry.Describe()} draining: {entry.Live} live, deadline in {timeout.TotalSeconds:0.#}s", entry.Service, entry.Pool);
    }

    private void EndDrain(DrainKey key)
    {
        if (_drains.Remove(key, out var entry) && entry.DrainedAt is null)
        {
            Log.Info($"drain cancelled {entry.Describe()}: it takes traffic again");
            Events.Append("drain_cancelled", $"{entry.Describe()} takes traffic again", entry.Service, entry.Pool);
        }
    }

    private bool IsConfigured(DrainKey key)
    {
        var pool = Router.Current.FindService(key.Service)?.FindPool(key.Pool);
        if (pool is null) return false;
        return key.Address is null || FindBackend(pool, key.Address) is not null;
    }

    private static BackendSnapshot? FindBackend(PoolSnapshot pool, string address)
    {
        foreach (var b in pool.Backends)
        {
            if (b.Address == address) return b;
        }
        return null;
    }

    private static BackendState[] States(BackendSnapshot[] backends)
    {
        var states = new BackendState[backends.Length];
        for (var i = 0; i < backends.Length; i++) states[i] = backends[i].State;
        return states;
    }
}
