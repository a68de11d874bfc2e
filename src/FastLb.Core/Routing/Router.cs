namespace FastLb.Core.Routing;

/// <summary>Holds the current <see cref="RoutingTable"/>; readers never lock, writers publish with one exchange.</summary>
internal sealed class Router
{
    private RoutingTable _table = RoutingTable.Empty;
    private long _publishedAtMs;

    /// <summary>The table to route by; read it once per connection (per request in HTTP) and keep the reference.</summary>
    public RoutingTable Current => Volatile.Read(ref _table);

    /// <summary>Publishes <paramref name="next"/> and returns the table it replaced. Callers serialize on their own writer lock.</summary>
    public RoutingTable Publish(RoutingTable next)
    {
        var old = Interlocked.Exchange(ref _table, next);
        Volatile.Write(ref _publishedAtMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return old;
    }

    /// <summary>When the current table was published (Unix milliseconds), 0 before the first publish.</summary>
    public long PublishedAtUnixMs => Volatile.Read(ref _publishedAtMs);
}
