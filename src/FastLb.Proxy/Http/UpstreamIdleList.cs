namespace FastLb.Proxy.Http;

/// <summary>Idle connections to one backend, most recently used on top (LIFO keeps few connections warm); bounded.</summary>
internal sealed class UpstreamIdleList(int capacity)
{
    private readonly Lock _lock = new();
    private readonly UpstreamConnection?[] _items = new UpstreamConnection?[capacity];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool TryPush(UpstreamConnection connection)
    {
        lock (_lock)
        {
            if (_count == _items.Length) return false;
            _items[_count++] = connection;
            return true;
        }
    }

    public bool TryPop(out UpstreamConnection? connection)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                connection = null;
                return false;
            }
            connection = _items[--_count];
            _items[_count] = null;
            return true;
        }
    }

    /// <summary>Removes every connection for which <paramref name="evict"/> holds, into <paramref name="evicted"/> (keeps order).</summary>
    public void RemoveWhere<TState>(Func<UpstreamConnection, TState, bool> evict, TState state, List<UpstreamConnection> evicted)
    {
        lock (_lock)
        {
            var kept = 0;
            for (var i = 0; i < _count; i++)
            {
                var c = _items[i]!;
                if (evict(c, state)) evicted.Add(c);
                else _items[kept++] = c;
            }
            for (var i = kept; i < _count; i++) _items[i] = null;
            _count = kept;
        }
    }
}
