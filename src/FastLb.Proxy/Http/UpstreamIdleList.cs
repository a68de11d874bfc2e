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
/// A list the pool drops (<see cref="TryRetireIfEmpty"/>) is retired under every stack's lock: a push either lands
/// before (and the list is not empty, so it stays) or is refused after, so no connection is left in a list the pool
/// no longer holds.
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

    /// <summary>Adds <paramref name="connection"/> to its loop's stack; false when that stack is full or the list was retired.</summary>
    public bool TryPush(UpstreamConnection connection) => StackOf(connection.Loop).TryPush(connection);

    /// <summary>
    /// Retires the list if every stack is empty, atomically with pushes: afterwards every <see cref="TryPush"/> is
    /// refused. False (and nothing changes) when a connection is idle in it.
    /// </summary>
    public bool TryRetireIfEmpty() => TryRetireFrom(0);

    private bool TryRetireFrom(int index)
    {
        if (index == _stacks.Length) return true; // every lock is held and every stack was empty
        var stack = _stacks[index];
        lock (stack.Lock)
        {
            if (stack.CountLocked != 0 || !TryRetireFrom(index + 1)) return false;
            stack.Retired = true;
            return true;
        }
    }

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
        public readonly Lock Lock = new();
        private UpstreamConnection?[]? _items;
        private int _count;

        /// <summary>Set under <see cref="Lock"/> once the pool dropped the list: pushes are refused from then on.</summary>
        public bool Retired;

        public int Count => Volatile.Read(ref _count);

        public int CountLocked => _count;

        public bool TryPush(UpstreamConnection connection)
        {
            lock (Lock)
            {
                if (Retired) return false;
                var items = _items ??= new UpstreamConnection?[capacity];
                if (_count == items.Length) return false;
                items[_count++] = connection;
                return true;
            }
        }

        public bool TryPop(out UpstreamConnection? connection)
        {
            lock (Lock)
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
            lock (Lock)
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
