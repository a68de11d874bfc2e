using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

/// <summary>A pool (Address null) or one backend that lost its traffic and whose live connections are draining.</summary>
internal sealed class DrainEntry(string service, string pool, string? address, BackendState[] backends, DateTimeOffset since, DateTimeOffset deadline)
{
    public string Service { get; } = service;
    public string Pool { get; } = pool;
    public string? Address { get; } = address;
    public BackendState[] Backends { get; } = backends;
    public DateTimeOffset Since { get; } = since;
    public DateTimeOffset Deadline { get; } = deadline;

    /// <summary>When the live count first reached 0, or null while connections remain.</summary>
    public DateTimeOffset? DrainedAt { get; set; }

    /// <summary>Connections cut at the deadline.</summary>
    public int Aborted { get; set; }

    public int Live
    {
        get
        {
            var n = 0;
            foreach (var b in Backends) n += b.Live;
            return n;
        }
    }

    public string Describe() => Address is null ? $"{Service}/{Pool}" : $"{Service}/{Pool}/{Address}";
}
