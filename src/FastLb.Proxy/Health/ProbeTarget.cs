using System.Net;
using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;

namespace FastLb.Proxy.Health;

/// <summary>One checked backend on the prober's thread: its check settings, the pre-encoded request and the check in flight.</summary>
internal sealed class ProbeTarget(BackendState state, IPEndPoint endPoint, HealthCheckConfig config, int slot)
{
    /// <summary>Bytes of the status line a check reads ("HTTP/1.1 200"); the rest of the response is never read.</summary>
    public const int StatusLineBytes = 12;

    public BackendState State { get; } = state;
    public IPEndPoint EndPoint { get; set; } = endPoint;
    public HealthCheckConfig Config { get; private set; } = config;
    public int Slot { get; } = slot;

    /// <summary>"web/green 10.0.1.1:8080", for the log.</summary>
    public string Label { get; } = $"{state.Service}/{state.Pool} {state.Address}";

    /// <summary>HTTP: the whole request, built when the settings change, sent as is by every check.</summary>
    public byte[] Request { get; private set; } = BuildRequest(config, state.Address);

    /// <summary>The service's TLS to its backends: an http check speaks it too; null = plain (tcp checks always connect plain).</summary>
    public UpstreamTls? Tls { get; set; }

    /// <summary>The TLS check in flight (phase <see cref="ProbePhase.Tls"/>); it owns the socket then.</summary>
    public TlsCheck? TlsCheck { get; set; }

    public ProbePhase Phase { get; set; }
    public int Fd { get; set; } = -1;

    /// <summary>Bumped per check; the epoll token carries it so a late event of an earlier check is ignored.</summary>
    public uint Sequence { get; set; }

    public long StartedMs { get; set; }
    public long StartedTimestamp { get; set; }
    public long DueMs { get; set; }
    public long DeadlineMs { get; set; }
    public bool Removed { get; set; }

    /// <summary>The status line read so far.</summary>
    public byte[] Buffer { get; } = new byte[StatusLineBytes];
    public int Filled { get; set; }

    /// <summary>Takes new settings; true when they change what or how often it probes.</summary>
    public bool Update(HealthCheckConfig config)
    {
        var changed = !Config.SameAs(config);
        Config = config;
        if (changed) Request = BuildRequest(config, State.Address);
        return changed;
    }

    private static byte[] BuildRequest(HealthCheckConfig config, string address) =>
        config.Kind == HealthCheckKind.Http
            ? Encoding.ASCII.GetBytes($"GET {config.Path} HTTP/1.1\r\nHost: {config.Host ?? address}\r\nUser-Agent: fastlb-health\r\nAccept: */*\r\nConnection: close\r\n\r\n")
            : [];
}
