using FastLb.Core.Metrics;

namespace FastLb.Core.Diagnostics;

/// <summary>What one access log line says about a request (HTTP) or a connection (TCP); spans point into the request's own buffers.</summary>
internal ref struct AccessLogRecord
{
    public DateTime Time;

    /// <summary>The client's address (ASCII): the peer, or from a trusted proxy the client it names.</summary>
    public ReadOnlySpan<byte> Client;

    /// <summary>The client's port, or -1 when unknown (the client came through a trusted proxy).</summary>
    public int ClientPort;

    public string Listener;

    /// <summary>The 1-based position of the matching route in the listener's routes, or 0 (TCP, no route matched, or a <c>models:</c> alias).</summary>
    public int Route;

    /// <summary>The <c>models:</c> alias that routed the request (UTF-8), or empty when a listed route (or none) did.</summary>
    public ReadOnlySpan<byte> Alias;

    public string? Service;
    public string? Pool;
    public string? Backend;

    /// <summary>The routing table generation the request was routed by, or 0 when it was not routed.</summary>
    public long Generation;

    /// <summary>True for an HTTP request: method, path and status apply.</summary>
    public bool Http;

    public ReadOnlySpan<byte> Method;
    public ReadOnlySpan<byte> Path;

    /// <summary>The status sent to the client, or 0 when none was.</summary>
    public int Status;

    public long BytesIn;
    public long BytesOut;
    public long DurationMicros;

    /// <summary>Time from sending the request upstream to the response head, or -1 when none came.</summary>
    public long UpstreamHeadMicros;

    public int Retries;
    public TerminationCause Cause;

    /// <summary>The request's model (UTF-8) on a listener with model routes; empty otherwise (and no model fields are written).</summary>
    public ReadOnlySpan<byte> Model;

    /// <summary>The prompt and completion token counts the response reported in <c>usage</c>, or -1.</summary>
    public long PromptTokens;
    public long CompletionTokens;

    /// <summary>The <c>fallback:</c> of the service the request was routed to, or null (and no fallback fields are written).</summary>
    public Config.FallbackConfig? Fallback;

    /// <summary>Entries of <c>fallback.to</c> the request moved to, in order; 0 when it did not fall back.</summary>
    public int FallbackSteps;

    /// <summary>Why each step was taken (<see cref="Config.FallbackTrail"/>).</summary>
    public ulong FallbackTrail;

    /// <summary>The service and pool the request went to before its first fallback (the pool null when none was picked).</summary>
    public string? FallbackFromService;
    public string? FallbackFromPool;
}
