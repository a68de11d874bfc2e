using FastLb.Core.Config;
using FastLb.Core.Diagnostics;

namespace FastLb.Proxy;

/// <summary>The access logs of a server, one per destination path, shared by the listeners that name it; kept across reloads.</summary>
internal sealed class AccessLogSet : IDisposable
{
    private readonly Lock _lock = new();
    private Dictionary<string, AccessLog> _logs = new(StringComparer.Ordinal);
    private long _retiredLines;
    private long _retiredDropped;

    /// <summary>Lines accepted by every access log this server has had.</summary>
    public long Lines
    {
        get
        {
            lock (_lock) return _retiredLines + _logs.Values.Sum(l => l.Lines);
        }
    }

    /// <summary>Lines lost by every access log this server has had (buffer full, or the file could not be written).</summary>
    public long Dropped
    {
        get
        {
            lock (_lock) return _retiredDropped + _logs.Values.Sum(l => l.Dropped);
        }
    }

    /// <summary>
    /// Opens a log for every path <paramref name="listeners"/> name and keeps the ones already open; returns the logs
    /// no listener names any more, which the caller disposes once their listeners' connections are gone.
    /// </summary>
    public List<AccessLog> Apply(IEnumerable<ListenerConfig> listeners)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, AccessLog>(StringComparer.Ordinal);
            foreach (var listener in listeners)
            {
                if (listener.AccessLog is not { } options || next.ContainsKey(options.Path)) continue;
                if (!_logs.TryGetValue(options.Path, out var log))
                {
                    log = new AccessLog(options.Path);
                    log.Start();
                }
                next[options.Path] = log;
            }
            var retired = _logs.Values.Where(l => !next.ContainsKey(l.Path)).ToList();
            _logs = next;
            return retired;
        }
    }

    /// <summary>The log of <paramref name="config"/>'s access_log path, or null when it has none.</summary>
    public AccessLog? For(ListenerConfig config)
    {
        if (config.AccessLog is not { } options) return null;
        lock (_lock) return _logs.GetValueOrDefault(options.Path);
    }

    /// <summary>Reopens every file (logrotate moved them).</summary>
    public void Reopen()
    {
        lock (_lock)
        {
            foreach (var log in _logs.Values) log.Reopen();
        }
    }

    /// <summary>Closes a log no listener uses any more, keeping its counts in the totals.</summary>
    public void Retire(AccessLog log)
    {
        log.Dispose();
        lock (_lock)
        {
            _retiredLines += log.Lines;
            _retiredDropped += log.Dropped;
        }
    }

    public void Dispose()
    {
        List<AccessLog> all;
        lock (_lock)
        {
            all = [.. _logs.Values];
            _logs = new(StringComparer.Ordinal);
        }
        foreach (var log in all) Retire(log);
    }
}
