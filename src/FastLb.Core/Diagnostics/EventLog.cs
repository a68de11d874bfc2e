using System.Text.Json;

namespace FastLb.Core.Diagnostics;

/// <summary>
/// The last <see cref="Capacity"/> operational events (traffic changes, reloads, drains, health, upgrades), for
/// <c>GET /events</c>, <c>ctl events</c> and the dashboard. Any component appends; control plane only (one lock).
/// </summary>
internal sealed class EventLog(TimeProvider time)
{
    public const int Capacity = 1000;

    private readonly Lock _lock = new();
    private readonly FastLbEvent[] _ring = new FastLbEvent[Capacity];
    private long _sequence;

    public EventLog() : this(TimeProvider.System)
    {
    }

    /// <summary>The sequence number of the newest event, 0 before the first.</summary>
    public long LastSequence
    {
        get
        {
            lock (_lock) return _sequence;
        }
    }

    /// <summary>Records an event; the oldest falls out once <see cref="Capacity"/> are kept.</summary>
    public FastLbEvent Append(string kind, string message, string? service = null, string? pool = null, long? generation = null, bool ok = true)
    {
        lock (_lock)
        {
            var e = new FastLbEvent(++_sequence, time.GetUtcNow(), kind, service, pool, message, generation, ok);
            _ring[(int)((e.Sequence - 1) % Capacity)] = e;
            return e;
        }
    }

    /// <summary>Events after <paramref name="afterSequence"/>, oldest first; at most the newest <paramref name="limit"/>.</summary>
    public List<FastLbEvent> Since(long afterSequence = 0, int limit = Capacity)
    {
        lock (_lock)
        {
            var first = Math.Max(Math.Max(afterSequence + 1, _sequence - Capacity + 1), _sequence - Math.Clamp(limit, 0, Capacity) + 1);
            var events = new List<FastLbEvent>((int)Math.Max(0, _sequence - first + 1));
            for (var s = Math.Max(1, first); s <= _sequence; s++) events.Add(_ring[(int)((s - 1) % Capacity)]);
            return events;
        }
    }

    /// <summary>Writes <c>"last_sequence"</c> and the <c>"events"</c> array into an open JSON object.</summary>
    public void WriteJson(Utf8JsonWriter w, long afterSequence = 0, int limit = Capacity)
    {
        var events = Since(afterSequence, limit);
        w.WriteNumber("last_sequence", events.Count > 0 ? events[^1].Sequence : LastSequence);
        w.WriteStartArray("events");
        foreach (var e in events)
        {
            w.WriteStartObject();
            w.WriteNumber("seq", e.Sequence);
            w.WriteString("time", e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            w.WriteString("kind", e.Kind);
            if (e.Service is not null) w.WriteString("service", e.Service);
            if (e.Pool is not null) w.WriteString("pool", e.Pool);
            if (e.Generation is { } g) w.WriteNumber("generation", g);
            w.WriteBoolean("ok", e.Ok);
            w.WriteString("message", e.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
