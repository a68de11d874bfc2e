namespace FastLb.Core.Routing;

/// <summary>Holds the current <see cref="RoutingTable"/>; readers never lock, writers publish with one exchange.</summary>
internal sealed class Router
{
    private RoutingTable _table = RoutingTable.Empty;

    /// <summary>The table to route by; read it once per connection (per request in HTTP) and keep the reference.</summary>
    public RoutingTable Current => Volatile.Read(ref _table);

    /// <summary>Publishes <paramref name="next"/> and returns the table it replaced. Callers serialize on their own writer lock.</summary>
    public RoutingTable Publish(RoutingTable next) => Interlocked.Exchange(ref _table, next);
}
