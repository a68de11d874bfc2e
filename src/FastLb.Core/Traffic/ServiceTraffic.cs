namespace FastLb.Core.Traffic;

/// <summary>Control-plane state of one service's traffic assignment: current shares, their source, and the rollback history.</summary>
internal sealed class ServiceTraffic(string service, Dictionary<string, int> fileShares)
{
    /// <summary>How many earlier assignments rollback can step back through.</summary>
    public const int HistoryDepth = 16;

    private readonly List<Dictionary<string, int>> _history = [];

    public string Service { get; } = service;

    /// <summary>Shares as the file said at the last successful load.</summary>
    public Dictionary<string, int> FileShares { get; set; } = fileShares;

    /// <summary>Shares in force now.</summary>
    public Dictionary<string, int> Current { get; set; } = new(fileShares);

    public AssignmentSource Source { get; set; } = AssignmentSource.File;

    /// <summary>The assignment rollback would restore, or null.</summary>
    public Dictionary<string, int>? Previous => _history.Count == 0 ? null : _history[^1];

    /// <summary>Earlier assignments, oldest first; the last is what rollback restores.</summary>
    public IReadOnlyList<Dictionary<string, int>> History => _history;

    /// <summary>Replaces the history (a process upgrade hands it over), keeping at most <see cref="HistoryDepth"/> entries.</summary>
    public void RestoreHistory(IEnumerable<Dictionary<string, int>> history)
    {
        _history.Clear();
        _history.AddRange(history);
        if (_history.Count > HistoryDepth) _history.RemoveRange(0, _history.Count - HistoryDepth);
    }

    /// <summary>Records the current assignment before it is replaced.</summary>
    public void PushHistory()
    {
        _history.Add(new Dictionary<string, int>(Current));
        if (_history.Count > HistoryDepth) _history.RemoveAt(0);
    }

    /// <summary>Removes and returns the assignment before the last change.</summary>
    public Dictionary<string, int>? PopHistory()
    {
        if (_history.Count == 0) return null;
        var last = _history[^1];
        _history.RemoveAt(_history.Count - 1);
        return last;
    }

    /// <summary>Drops history entries that name pools the service no longer has.</summary>
    public void PruneHistory(IReadOnlyCollection<string> pools)
    {
        _history.RemoveAll(h => h.Count != pools.Count || !h.Keys.All(pools.Contains));
    }
}
