using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>
/// Idle connections to one backend: one bounded LIFO stack per event loop (most recently used on top keeps few
/// connections warm).
/// </summary>
/// <remarks>
/// A connection goes back to the stack of the loop that delivers its readiness, and a request rents only from its
/// own loop's stack, so client and backend sockets of an exchange always share a thread. When its loop has none idle,
/// a request opens a new connection rather than borrowing another loop's: a borrowed one would bounce every event of
/// the exchange between two threads. Each stack is touched by its own loop (rent, return) and, rarely, by the sweep,
/// so its lock is practically uncontended.
/// </remarks>
/// <param name="loopCount">The server's event loop count.</param>
/// <param name="capacity">Idle connections kept per loop.</param>
internal sealed class UpstreamIdleList(int loopCount, int capacity)
{
    private readonly LoopStack[] _stacks = CreateStacks(loopCount, capacity);

    public int Count
    {
        get
        {
            var n = 0;
            foreach (var stack in _stacks) n += stack.Count;
            return n;
        }
    }

    public bool TryPush(UpstreamConnection connection) => StackOf(connection.Loop).TryPush(connection);

    /// <summary>The most recently pushed connection of <paramref name="loop"/>, if any.</summary>
    public bool TryPop(EpollLoop loop, out UpstreamConnection? connection) => StackOf(loop).TryPop(out connection);

    /// <summary>Removes every connection for which <paramref name="evict"/> holds, into <paramref name="evicted"/> (keeps order).</summary>
    public void RemoveWhere<TState>(Func<UpstreamConnection, TState, bool> evict, TState state, List<UpstreamConnection> evicted)
    {
        foreach (var stack in _stacks) stack.RemoveWhere(evict, state, evicted);
    }

    private LoopStack StackOf(EpollLoop loop) => _stacks[loop.Id < _stacks.Length ? loop.Id : 0];

    private static LoopStack[] CreateStacks(int loopCount, int capacity)
    {
        var stacks = new LoopStack[Math.Max(1, loopCount)];
        for (var i = 0; i < stacks.Length; i++) stacks[i] = new LoopStack(capacity);
        return stacks;
    }

    private sealed class LoopStack(int capacity)
    {
        private readonly Lock _lock = new();
        private UpstreamConnection?[]? _items;
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public bool TryPush(UpstreamConnection connection)
        {
            lock (_lock)
            {
                var items = _items ??= new UpstreamConnection?[capacity];
                if (_count == items.Length) return false;
                items[_count++] = connection;
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
                connection = _items![--_count];
                _items[_count] = null;
                return true;
            }
        }

        public void RemoveWhere<TState>(Func<UpstreamConnection, TState, bool> evict, TState state, List<UpstreamConnection> evicted)
        {
            lock (_lock)
            {
                if (_items is null) return;
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
}
